//! Test-only dialogue on the `popline-plugin` SDK: the SDK's defaults for
//! every step; `open` only adds a log line around the default.

use popline_plugin::Pop3Dialogue;
use popline_plugin::log;
use popline_plugin::pop3::{Pop3Error, ServerInfo, Session, SessionParams};

struct SdkDialogue;

impl Pop3Dialogue for SdkDialogue {
    fn open(session: &mut Session, params: &SessionParams) -> Result<ServerInfo, Pop3Error> {
        let info = session.standard_open(params)?;
        log::info!(
            "sdk-dialogue logged in as {} with {}",
            params.user,
            info.mechanism
        );
        Ok(info)
    }
}

popline_plugin::export_pop3_dialogue!(SdkDialogue);
