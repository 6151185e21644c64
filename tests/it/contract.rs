//! The API against its own OpenAPI document, by an independent property-based tester
//! (Schemathesis, pinned in `.ci/run`): every check, positive and negative data, stateful links,
//! once with an owner's key and once with a member's key. Zero failures.

use std::path::PathBuf;
use std::process::Command;

use crate::api::create_key;
use crate::support::{self, Options, spawn_app_with};

/// The Schemathesis binary: `SCHEMATHESIS`, the project's `.venv`, or PATH.
fn schemathesis() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("SCHEMATHESIS") {
        return Some(PathBuf::from(path));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/schemathesis");
    if venv.exists() {
        return Some(venv);
    }
    Command::new("schemathesis")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| PathBuf::from("schemathesis"))
}

/// Runs Schemathesis; its report when it finds failures.
fn run(tool: &PathBuf, address: &str, key: &str) -> Result<(), String> {
    let output = Command::new(tool)
        .args(["run", &format!("{address}/api/v1/openapi.json")])
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .args(["--checks", "all", "--mode", "all", "--max-examples", "25"])
        .args(["--continue-on-failure", "-w", "1", "--no-color"])
        .args([
            "--seed",
            &std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".into()),
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{stdout}\n{stderr}"))
    }
}

#[actix_web::test]
async fn the_api_agrees_with_its_document_for_owners_and_members() {
    let Some(tool) = schemathesis() else {
        let message = "SCHEMATHESIS TEST SKIPPED: install it with \
            `python3 -m venv .venv && .venv/bin/pip install schemathesis==4.32.5`";
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{message} (CI=true: this test must run)"
        );
        eprintln!("\n!!!!!!!!!!\n{message}\n!!!!!!!!!!\n");
        return;
    };
    let app = spawn_app_with(Options {
        api_rate_per_minute: 1_000_000,
        invites_per_org_per_day: 1_000_000,
        ..Options::default()
    })
    .await;
    let slug = app.owner_with_org().await;
    let owner_key = create_key(&app, &app.client, "contract").await;
    let member = support::member(&app, &slug, "Mia Member", "mia@example.test", "member").await;
    let member_key = create_key(&app, &member, "contract").await;
    let address = app.address.clone();
    let reports = actix_web::rt::task::spawn_blocking(move || {
        [
            ("a member", run(&tool, &address, &member_key)),
            ("an owner", run(&tool, &address, &owner_key)),
        ]
    })
    .await
    .expect("schemathesis runs");
    for (who, report) in reports {
        if let Err(report) = report {
            panic!("Schemathesis found failures with {who}'s key:\n{report}");
        }
    }
}
