//! The same container figures (2.49 s of CPU, the issue's `cpuacct.usage`) as a v1 and a
//! v2 node keep them, read from fixture trees under `fixtures/`.
use super::*;

fn fixture(version: &str) -> Fs {
    Fs::under(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(version))
}

fn expected(version: Version) -> Stats {
    Stats {
        version,
        cpu: Cpu {
            usage_ns: 2_490_000_000,
            user_ns: 2_100_000_000,
            kernel_ns: 390_000_000,
            periods: 120,
            throttled_periods: 7,
            throttled_ns: 350_000_000,
        },
        memory: Some(Memory {
            usage: 80_000_000,
            limit: Some(134_217_728),
            inactive_file: 4_000_000,
            rss: 70_000_000,
            cache: 6_000_000,
            pgfault: 12_345,
            pgmajfault: 6,
        }),
        pids: Some(Pids { current: 9, limit: None }),
    }
}

#[test]
fn v1_cpu_comes_from_cpuacct_in_nanoseconds() {
    let s = read_in(&fixture("v1"), 4242).unwrap();
    assert_eq!(s, expected(Version::V1));
    assert_eq!(s.memory.unwrap().working_set(), 76_000_000);
}

#[test]
fn v2_cpu_stat_microseconds_become_nanoseconds() {
    assert_eq!(read_in(&fixture("v2"), 4242).unwrap(), expected(Version::V2));
}

/// (Its pids cgroup is the hierarchy's root, which has no pids.current.)
#[test]
fn older_v1_kernel_and_unlimited_memory() {
    let s = read_in(&fixture("v1"), 4343).unwrap();
    assert_eq!(s.cpu.usage_ns, 5_000_000);
    assert_eq!((s.cpu.user_ns, s.cpu.kernel_ns), (30_000_000, 10_000_000));
    let m = s.memory.unwrap();
    assert_eq!((m.limit, m.inactive_file, m.rss), (None, 0, 1000));
    assert_eq!(s.pids, None);
}

#[test]
fn v2_cgroup_without_memory_or_pids_controllers() {
    let s = read_in(&fixture("v2"), 4343).unwrap();
    assert_eq!(s.cpu.usage_ns, 7000);
    assert_eq!((s.memory, s.pids), (None, None));
}

#[test]
fn a_missing_process_is_an_error_naming_the_file() {
    let e = read_in(&fixture("v1"), 1).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert!(e.to_string().contains("proc/1/cgroup"), "{e}");
}

#[test]
fn this_process_on_this_machine() {
    // Whatever the machine runs, our own cgroup reads, with some CPU spent.
    let s = read(std::process::id()).unwrap();
    assert!(s.cpu.usage_ns > 0, "{s:?}");
}
