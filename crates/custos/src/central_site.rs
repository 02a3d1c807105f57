//! `custos central enrol`: the site's enrolment with the central office,
//! from the command line (`custos serve` also enrols at start).

use std::path::Path;

use anyhow::Context;

/// Enrols the site of the configuration at `config_path` with its
/// `[central]` office and prints what was pinned. Enrolling a site that is
/// enrolled already only shows the enrolment.
pub fn enrol_command(config_path: &Path, again: bool) -> anyhow::Result<()> {
    let config = crate::load_config(config_path)?;
    let Some(central) = &config.central else {
        anyhow::bail!(
            "{}: there is no [central] table; add one with the central office's url and the \
             enrol_code it gave",
            config_path.display()
        );
    };
    let store = crate::site_store(&config.data_dir)?;
    let key = custos_site::sitelog::signing_key(&config.data_dir, &config.site)?;
    let enrol = if again {
        custos_site::uplink::enrol_again
    } else {
        custos_site::uplink::enrol
    };
    let enrolment = enrol(
        &store,
        central,
        &key.verifier(),
        custos_site::uplink::DEFAULT_TIMEOUT,
    )
    .with_context(|| format!("enrolling with the central office at {}", central.url))?;
    println!(
        "{} {} as site {:?}\nwitness key: {}\nwitness URL: {}",
        if enrolment.new {
            "enrolled with"
        } else {
            "already enrolled with"
        },
        central.url,
        enrolment.site,
        enrolment.witness_key,
        enrolment.witness_url
    );
    if enrolment.new {
        println!("the enrol_code is no longer needed and may be removed from the configuration");
    }
    Ok(())
}
