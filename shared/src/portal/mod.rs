//! The customer's own page (issue 17): signed links from the emails. So
//! far, the links themselves ([`link`]); the page comes next.

pub mod link;
