//! The `--timings` report of `popline once`: each stage's count, wall time
//! and CPU time, against the whole process's CPU.

use std::fmt::Write;
use std::time::Duration;

use popline_core::timing::{self, StageTotals};

/// The report for a run that took `wall`.
pub fn report(wall: Duration) -> String {
    render(&timing::totals(), wall, timing::process_cpu())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn render(stages: &[StageTotals], wall: Duration, cpu: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "timings: run {} wall, {} CPU (process); stage wall times add up across concurrent mailboxes",
        ms(wall),
        ms(cpu)
    );
    let _ = writeln!(
        out,
        "{:<20} {:>8} {:>12} {:>12} {:>8}",
        "stage", "count", "wall", "CPU", "CPU %"
    );
    let mut measured = Duration::ZERO;
    for s in stages {
        measured += s.cpu;
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>12} {:>12} {:>8}",
            s.stage.name(),
            s.count,
            ms(s.wall),
            ms(s.cpu),
            percent(s.cpu, cpu)
        );
    }
    let rest = cpu.saturating_sub(measured);
    let _ = writeln!(
        out,
        "{:<20} {:>8} {:>12} {:>12} {:>8}",
        "everything else",
        "",
        "",
        ms(rest),
        percent(rest, cpu)
    );
    out
}

fn percent(part: Duration, whole: Duration) -> String {
    if whole.is_zero() {
        return "-".into();
    }
    format!("{:.1}%", part.as_secs_f64() * 100.0 / whole.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use popline_core::timing::Stage;

    #[test]
    fn the_rest_of_the_cpu_is_what_no_stage_measured() {
        let stages = vec![
            StageTotals {
                stage: Stage::TlsRead,
                count: 3,
                wall: Duration::from_millis(50),
                cpu: Duration::from_millis(5),
            },
            StageTotals {
                stage: Stage::MimeParse,
                count: 2,
                wall: Duration::from_millis(30),
                cpu: Duration::from_millis(25),
            },
        ];
        let text = render(&stages, Duration::from_secs(1), Duration::from_millis(100));
        let line = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .unwrap()
                .to_string()
        };
        assert!(
            line("TLS read").contains("5.0 ms") && line("TLS read").ends_with("5.0%"),
            "{text}"
        );
        assert!(
            line("MIME parse").contains("25.0 ms") && line("MIME parse").ends_with("25.0%"),
            "{text}"
        );
        assert!(line("everything else").contains("70.0 ms"), "{text}");
    }
}
