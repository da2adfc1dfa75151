//! Test-only mapper, written on the `popline-plugin` SDK so the suite
//! exercises it. Config key `mode` picks its behaviour:
//! `echo` (default: one record whose body is the subject upper-cased),
//! `loop`, `oom`, `panic`, `huge`, `log-flood`, `error`, `empty`,
//! `attachment` (reads attachment 0 through the host and reports its length),
//! `log` (one line per level through the `log` crate, then a skip),
//! `require` (fails unless config key `needed` is set),
//! `aliased` (holds a `mib` MiB buffer, default 8, and returns `aliases`
//! records, default 4000, whose bodies are all that one buffer; with
//! `aliases=0` one small record: the baseline),
//! `fs`, `net`, `env` (try to read a file, open a socket, read `$HOME`, and
//! report what happened: the sandbox must deny all three),
//! `residue` (reports whether a static and a 2 MiB heap block still hold
//! what an earlier call wrote there, then writes it: every message must get
//! fresh memory, even where the host keeps instance memory resident).

use popline_plugin::{Address, Config, Context, Email, Feedback, Mapper, Outcome, log};

struct TestMapper;

/// What `residue` leaves behind.
const MARK: u8 = 0xA5;
static STATIC_BLOCK: std::sync::Mutex<[u8; 4096]> = std::sync::Mutex::new([0; 4096]);

/// Whether memory an earlier instance wrote is visible, then write it.
fn residue() -> String {
    let mut block = STATIC_BLOCK.lock().unwrap();
    let static_seen = block.contains(&MARK);
    block.fill(MARK);
    // The same allocation in a fresh instance lands at the same address; a
    // byte from an earlier message there would be read here. Volatile reads
    // of fresh allocator memory: the point is to see what the host left.
    let layout = std::alloc::Layout::from_size_align(2 << 20, 16).unwrap();
    let heap_seen = unsafe {
        let p = std::alloc::alloc(layout);
        assert!(!p.is_null());
        let seen = (0..layout.size()).any(|i| std::ptr::read_volatile(p.add(i)) == MARK);
        std::ptr::write_bytes(p, MARK, layout.size());
        // Not freed: a freed block could be reused and so cleared.
        seen
    };
    format!("static residue: {static_seen}, heap residue: {heap_seen}")
}

fn record(email: &Email, body: String) -> Feedback {
    let author = email
        .sender()
        .cloned()
        .unwrap_or_else(|| Address::new("unknown@invalid"));
    Feedback::new(author, body)
        .from_email(email)
        .field("mapper", "test-mapper")
}

impl Mapper for TestMapper {
    fn map(email: &Email, _ctx: &Context, config: &Config) -> Result<Outcome, String> {
        match config.get_or("mode", "echo") {
            "echo" => Ok(record(
                email,
                email.subject.clone().unwrap_or_default().to_uppercase(),
            )
            .into()),
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "oom" => {
                let mut hog: Vec<Vec<u8>> = Vec::new();
                loop {
                    hog.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hog);
                }
            }
            "residue" => Ok(record(email, residue()).into()),
            "panic" => panic!("test-mapper was told to panic"),
            "huge" => Ok(record(email, "x".repeat(8 << 20)).into()),
            "log-flood" => {
                for i in 0..20_000 {
                    log::info!("flood line {i}");
                }
                Ok(Outcome::skip("flooded the log"))
            }
            "log" => {
                log::error!("sdk log error");
                log::warn!("sdk log warn");
                log::info!("sdk log info");
                log::debug!("sdk log debug");
                log::trace!("sdk log trace");
                Ok(Outcome::skip("logged one line per level"))
            }
            "require" => {
                let needed = config.require("needed")?;
                Ok(record(email, format!("needed={needed}")).into())
            }
            "fs" => {
                let r = std::fs::read_to_string("/etc/passwd");
                Ok(record(email, format!("fs: {:?}", r.map(|s| s.len()))).into())
            }
            "net" => {
                let r = std::net::TcpStream::connect("127.0.0.1:9");
                Ok(record(email, format!("net: {:?}", r.map(|_| ()))).into())
            }
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                Ok(record(email, format!("env: {:?} {vars:?}", std::env::var("HOME"))).into())
            }
            "error" => Err("test-mapper was told to fail".into()),
            "huge-error" => Err("e".repeat(2 << 20)),
            "huge-skip" => Ok(Outcome::Skip("s".repeat(2 << 20))),
            "empty" => Ok(Outcome::Feedback(Vec::new())),
            "aliased" => {
                let aliases: usize = config.parse("aliases")?.unwrap_or(4000);
                let mib: usize = config.parse("mib")?.unwrap_or(8);
                let buffer = std::mem::ManuallyDrop::new("a".repeat(mib << 20));
                if aliases == 0 {
                    std::hint::black_box(&buffer);
                    return Ok(record(email, "small".into()).into());
                }
                let records = (0..aliases)
                    .map(|_| {
                        // SAFETY: not sound, on purpose (every body owns the
                        // same leaked buffer): wit-bindgen hands a returned
                        // string to the host by pointer, so this is how a
                        // hostile guest aliases its output. The instance is
                        // discarded after the call.
                        let body = unsafe {
                            String::from_raw_parts(
                                buffer.as_ptr().cast_mut(),
                                buffer.len(),
                                buffer.capacity(),
                            )
                        };
                        // Nothing else per record: the guest's own memory
                        // stays what the baseline's is.
                        Feedback::new(Address::new("a@example.com"), body)
                    })
                    .collect::<Vec<_>>();
                Ok(Outcome::Feedback(records))
            }
            "attachment" => {
                let bytes = email.read_attachment(0)?;
                Ok(record(email, format!("attachment 0 has {} bytes", bytes.len())).into())
            }
            other => Err(format!("unknown mode {other:?}")),
        }
    }
}

popline_plugin::export_mapper!(TestMapper);
