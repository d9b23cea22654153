//! The aging report as a page (`pastdue report aging --html FILE`): the
//! chart the staff digest carries, then each currency's buckets with their
//! accounts. Plain HTML and inline styles, readable printed.

use minijinja::{Environment, context};

use crate::domain::aging::Aging;

/// The page for `aging`.
pub fn page(aging: &Aging) -> Result<String, String> {
    let mut env = Environment::new();
    for (name, source) in [
        (
            "aging_chart.html",
            include_str!("../../templates/email/aging_chart.html"),
        ),
        (
            "aging.html",
            include_str!("../../templates/report/aging.html"),
        ),
    ] {
        env.add_template(name, source)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    env.get_template("aging.html")
        .and_then(|t| t.render(context! { aging }))
        .map_err(|e| format!("aging.html: {e}"))
}
