//! Microsoft's clouds: each has its own sign-in host, Exchange Online
//! resource and POP host, and a token from one is worthless in another.
//! `oauth.authority` picks the cloud; scopes and the expected POP host
//! follow from it.

/// One Microsoft cloud.
#[derive(Debug, PartialEq, Eq)]
pub struct Cloud {
    /// What docs and errors call it.
    pub name: &'static str,
    /// Sign-in hosts (`oauth.authority`).
    pub authorities: &'static [&'static str],
    /// Delegated POP scope.
    pub pop_delegated: &'static str,
    /// App-only scope (client credentials).
    pub app: &'static str,
    /// POP hosts of the cloud's mailboxes.
    pub pop_hosts: &'static [&'static str],
}

/// The clouds Exchange Online runs in (docs/microsoft-365.md has the table).
pub const CLOUDS: &[Cloud] = &[
    Cloud {
        name: "global",
        authorities: &["login.microsoftonline.com"],
        pop_delegated: "https://outlook.office.com/POP.AccessAsUser.All",
        app: "https://outlook.office365.com/.default",
        pop_hosts: &[
            "outlook.office365.com",
            "pop-mail.outlook.com",
            "pop.office365.com",
        ],
    },
    Cloud {
        name: "US Government (GCC High, DoD)",
        authorities: &["login.microsoftonline.us"],
        pop_delegated: "https://outlook.office365.us/POP.AccessAsUser.All",
        app: "https://outlook.office365.us/.default",
        pop_hosts: &["outlook.office365.us", "outlook-dod.office365.us"],
    },
    Cloud {
        name: "China (21Vianet)",
        authorities: &["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"],
        pop_delegated: "https://partner.outlook.cn/POP.AccessAsUser.All",
        app: "https://partner.outlook.cn/.default",
        pop_hosts: &["partner.outlook.cn"],
    },
];

/// The POP host of personal Outlook.com / Hotmail accounts.
pub const CONSUMER_POP_HOST: &str = "pop-mail.outlook.com";

/// The cloud an authority URL (`https://login.microsoftonline.us`) signs in
/// to; `None` for anything else (a test stand-in, a private endpoint),
/// which gets the global cloud's scopes and no host check.
pub fn by_authority(authority: &str) -> Option<&'static Cloud> {
    let host = reqwest::Url::parse(authority)
        .ok()?
        .host_str()?
        .to_ascii_lowercase();
    CLOUDS
        .iter()
        .find(|c| c.authorities.contains(&host.as_str()))
}

/// The cloud whose mailboxes live at `pop_host`, if it is Microsoft's.
pub fn by_pop_host(pop_host: &str) -> Option<&'static Cloud> {
    let host = pop_host.to_ascii_lowercase();
    CLOUDS.iter().find(|c| c.pop_hosts.contains(&host.as_str()))
}

/// The global cloud.
pub fn global() -> &'static Cloud {
    &CLOUDS[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_by_authority_and_host() {
        let cases: &[(&str, Option<&str>)] = &[
            ("https://login.microsoftonline.com", Some("global")),
            ("https://LOGIN.microsoftonline.com/", Some("global")),
            (
                "https://login.microsoftonline.us",
                Some("US Government (GCC High, DoD)"),
            ),
            ("https://login.chinacloudapi.cn", Some("China (21Vianet)")),
            (
                "https://login.partner.microsoftonline.cn",
                Some("China (21Vianet)"),
            ),
            ("http://127.0.0.1:4000", None),
            ("not a url", None),
        ];
        for (authority, name) in cases {
            assert_eq!(
                by_authority(authority).map(|c| c.name),
                *name,
                "{authority}"
            );
        }
        assert_eq!(
            by_pop_host("Outlook.Office365.us").unwrap().name,
            CLOUDS[1].name
        );
        assert_eq!(
            by_pop_host("partner.outlook.cn").unwrap().name,
            CLOUDS[2].name
        );
        assert_eq!(by_pop_host(CONSUMER_POP_HOST), Some(global()));
        assert_eq!(by_pop_host("127.0.0.1"), None);
    }
}
