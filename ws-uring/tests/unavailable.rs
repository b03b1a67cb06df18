//! A kernel that refuses io_uring, made on the spot: this test binary runs
//! its own `probe` test again in a child process whose `io_uring_setup` a
//! seccomp filter refuses (`ENOSYS`, as Docker's default profile answers,
//! then `EPERM`), and checks that ws-uring says so in words instead of
//! failing obscurely. Where a seccomp filter cannot be installed, or io_uring
//! is refused already, the test says it was skipped and why.

use std::os::unix::process::CommandExt;
use std::process::Command;

use ws_uring::{Error, Runtime};

/// Set in the child: the words its error must contain.
const PROBE: &str = "WS_URING_PROBE_EXPECT";

/// Runs only in the child, under the filter.
#[test]
fn probe() {
    let Ok(expect) = std::env::var(PROBE) else {
        return; // the ordinary run: nothing to probe
    };
    let err = Runtime::new().expect_err("io_uring_setup is refused in this process");
    assert!(err.is_unavailable(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&expect), "{text}");
    println!("probe: {text}");
    // Every way in says the same, before touching the network.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("ws://{addr}/");
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    match ws_uring::connect(&url) {
        Err(Error::Unavailable(_)) => {}
        other => panic!("connect: {other:?}"),
    }
    match ws_uring::accept(tcp) {
        Err(Error::Unavailable(_)) => {}
        other => panic!("accept: {other:?}"),
    }
}

#[test]
fn a_refused_io_uring_is_an_error_in_words() {
    if let Err(err) = Runtime::new() {
        eprintln!("a_refused_io_uring_is_an_error_in_words: skipped: io_uring is refused here already: {err}");
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    for (errno, words) in [
        (libc::ENOSYS, "a seccomp filter answers ENOSYS"),
        (libc::EPERM, "the kernel refused io_uring to this process"),
    ] {
        let mut child = Command::new(&exe);
        child
            .args(["--exact", "probe", "--nocapture", "--test-threads=1"])
            .env(PROBE, words);
        // SAFETY: the closure only calls `prctl`, which is async-signal-safe,
        // between fork and exec.
        unsafe { child.pre_exec(move || refuse_io_uring_setup(errno)) };
        let output = match child.output() {
            Ok(output) => output,
            Err(err) => {
                eprintln!("a_refused_io_uring_is_an_error_in_words: skipped: cannot install a seccomp filter here: {err}");
                return;
            }
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("probe: io_uring is not available"),
            "errno {errno}: {}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Installs a seccomp filter that fails `io_uring_setup` with `errno` and
/// allows every other system call.
fn refuse_io_uring_setup(errno: i32) -> std::io::Result<()> {
    // Classic BPF, as <linux/filter.h> spells it: BPF_LD|BPF_W|BPF_ABS
    // (0x00|0x00|0x20), BPF_JMP|BPF_JEQ|BPF_K (0x05|0x10|0x00), BPF_RET|BPF_K.
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JMP_JEQ_K: u16 = 0x15;
    const BPF_RET_K: u16 = 0x06;
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    let filter = [
        // The system call number: offset 0 of `struct seccomp_data`.
        libc::sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: BPF_JMP_JEQ_K,
            jt: 0,
            jf: 1,
            k: libc::SYS_io_uring_setup as u32,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ERRNO | (errno as u32 & 0xffff),
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ALLOW,
        },
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: plain prctl calls; `program` and `filter` outlive them (the
    // kernel copies the filter).
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const libc::sock_fprog,
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
