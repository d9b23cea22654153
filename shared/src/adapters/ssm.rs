//! SSM Parameter Store: the SecureString parameters that hold webhook
//! secrets, read once at init.

use aws_sdk_ssm::error::DisplayErrorContext;

/// The decrypted value of parameter `name` (or of the Secrets Manager secret
/// that `/aws/reference/secretsmanager/<id>` names). An error says why, and
/// names the parameter but never a value.
pub async fn secure_string(client: &aws_sdk_ssm::Client, name: &str) -> Result<String, String> {
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| format!("cannot read parameter {name}: {}", DisplayErrorContext(&e)))?;
    out.parameter()
        .and_then(|p| p.value())
        .filter(|v| !v.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("parameter {name} has no value"))
}
