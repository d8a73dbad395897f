//! The binary's security options: HTTPS with `--tls-cert/--tls-key`, and users added on the
//! command line logging in over HTTP.

use std::process::{Command, Stdio};

use crate::helpers::{BIN, Server, run, stderr};

fn temp_db(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("stockbook-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("db.sqlite").display());
    (dir, url)
}

/// A self-signed certificate for `localhost`, made with the system's openssl.
fn certificate(dir: &std::path::Path) -> Option<(String, String)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    made.success()
        .then(|| (cert.display().to_string(), key.display().to_string()))
}

#[test]
fn serve_speaks_https_with_the_given_certificate() {
    let (dir, db) = temp_db("tls");
    let Some((cert, key)) = certificate(&dir) else {
        eprintln!("note: TLS test skipped: openssl is not available to make a certificate");
        return;
    };
    run(&db, &["migrate"]);
    let server = Server::start_with(&db, &["--tls-cert", &cert, "--tls-key", &key]);
    let url = format!("https://localhost:{}/healthz", server.addr.port());
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "10",
            ])
            .args(extra)
            .arg(&url)
            .output()
    };
    let Ok(trusted) = curl(&["--cacert", &cert]) else {
        eprintln!("note: TLS test skipped: curl is not available");
        return;
    };
    assert_eq!(
        String::from_utf8_lossy(&trusted.stdout),
        "200",
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    let untrusted = curl(&[]).unwrap();
    assert_ne!(
        String::from_utf8_lossy(&untrusted.stdout),
        "200",
        "a client that does not trust the certificate must not connect"
    );
    let plain = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .arg(format!("http://127.0.0.1:{}/healthz", server.addr.port()))
        .output()
        .unwrap();
    assert_ne!(
        String::from_utf8_lossy(&plain.stdout),
        "200",
        "no plain HTTP on a TLS port"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_user_added_on_the_command_line_can_log_in() {
    let (dir, db) = temp_db("user");
    let mut add = Command::new(BIN)
        .args([
            "user",
            "add",
            "--username",
            "ops",
            "--role",
            "manager",
            "--db",
            &db,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().unwrap();
        writeln!(stdin, "a long enough password").unwrap();
    }
    let out = add.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = run(
        &db,
        &["user", "add", "--username", "c", "--role", "customer"],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--customer"), "{}", stderr(&bad));

    let server = Server::start(&db);
    let login = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-H",
            "content-type: application/json",
            "-d",
        ])
        .arg(r#"{"username":"ops","password":"a long enough password"}"#)
        .arg(server.url("/api/v1/auth/login"))
        .output()
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&login.stdout).unwrap();
    assert!(body["token"].as_str().unwrap().starts_with("sb_"), "{body}");
    assert_eq!(body["user"]["role"], "manager");
    let listed = run(&db, &["user", "list"]);
    assert!(crate::helpers::stdout(&listed).starts_with("ops\tmanager"));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
