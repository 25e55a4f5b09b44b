//! Site mode's health check against other accounts' processes: the red team's attack, in which
//! any process running as `nobody` stopped the check's helper, which became `nobody`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::{Account, SiteStack};

/// A program as `uid`:`gid` that stops, over and over, every child of the process `parent` it
/// may signal (each thread's `children` in `/proc`); it runs until dropped.
struct Stopper(Child);

impl Stopper {
    fn start(uid: u32, gid: u32, parent: u32) -> Self {
        let program = "import glob,os,signal,sys\n\
                       while True:\n \
                        for kids in glob.glob(f'/proc/{sys.argv[1]}/task/*/children'):\n  \
                         try: pids = open(kids).read().split()\n  \
                         except OSError: continue\n  \
                         for pid in pids:\n   \
                          try: os.kill(int(pid), signal.SIGSTOP)\n   \
                          except OSError: pass\n";
        let child = Command::new("setpriv")
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .args(["--clear-groups", "--", "/usr/bin/python3", "-c", program])
            .arg(parent.to_string())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Self(child)
    }
}

impl Drop for Stopper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits past the health check's two seconds of freshness and asks again.
fn healthz_afresh(stack: &SiteStack) -> String {
    std::thread::sleep(Duration::from_millis(2100));
    stack.healthz()
}

/// The red team's attack: any process running as `nobody` stops the health check's helper,
/// and `/healthz` fails although people are served. The helper now becomes `health-account`
/// (by default the package's system account `keyhatch`). With the helper as nobody, this
/// stopper made `/healthz` answer 503 (seen before the fix, and again with the account's wiring
/// taken out); a stopper as the health account itself is not mounted, as it would stop the
/// helper only when quick enough, which a loaded machine does not promise.
#[test]
fn no_process_of_nobodys_can_stop_the_health_check_whose_helper_is_its_own_account() {
    let health = Account::create_system();
    let stack = SiteStack::start(&[], &["--health-account", &health.name]);
    assert!(stack.healthz().starts_with("HTTP/1.1 200"));

    // Only keyhatch's children are aimed at: other tests' checks may be nobody's.
    let nobodys = Stopper::start(65534, 65534, stack.keyhatch.id());
    let while_nobody_stops = healthz_afresh(&stack);
    drop(nobodys);

    assert!(
        while_nobody_stops.starts_with("HTTP/1.1 200"),
        "{while_nobody_stops}"
    );
}
