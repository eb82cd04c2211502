//! Which drop-in files apply: override by name, masks, order.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::super::dropins::{select, DropIn};
use super::*;

#[test]
fn select_table() {
    use Kind::{File, Mask};
    let other = |why: &str| Kind::Other(why.into());
    struct Case {
        what: &'static str,
        entries: Vec<Entry>,
        apply: Vec<At>,
        masks: Vec<At>,
        /// (file, by, masked)
        overridden: Vec<(At, At, bool)>,
        warnings: Vec<String>,
    }
    let cases = vec![
        Case {
            what: "nothing",
            entries: vec![],
            apply: vec![],
            masks: vec![],
            overridden: vec![],
            warnings: vec![],
        },
        Case {
            what: "lexical order of file names across directories",
            entries: vec![
                e(RUN, "30-c.toml", File),
                e(USR, "20-b.toml", File),
                e(ETC, "10-a.toml", File),
                e(USR, "05-z.toml", File),
            ],
            apply: vec![
                (USR, "05-z.toml"),
                (ETC, "10-a.toml"),
                (USR, "20-b.toml"),
                (RUN, "30-c.toml"),
            ],
            masks: vec![],
            overridden: vec![],
            warnings: vec![],
        },
        Case {
            what: "/etc replaces /run and /usr/lib of the same name; /run replaces /usr/lib",
            entries: vec![
                e(USR, "50-x.toml", File),
                e(RUN, "50-x.toml", File),
                e(ETC, "50-x.toml", File),
                e(USR, "60-y.toml", File),
                e(RUN, "60-y.toml", File),
            ],
            apply: vec![(ETC, "50-x.toml"), (RUN, "60-y.toml")],
            masks: vec![],
            overridden: vec![
                ((USR, "50-x.toml"), (ETC, "50-x.toml"), false),
                ((RUN, "50-x.toml"), (ETC, "50-x.toml"), false),
                ((USR, "60-y.toml"), (RUN, "60-y.toml"), false),
            ],
            warnings: vec![],
        },
        Case {
            what: "a /dev/null symlink in /etc masks every file of that name",
            entries: vec![
                e(USR, "50-x.toml", File),
                e(RUN, "50-x.toml", File),
                e(ETC, "50-x.toml", Mask),
                e(USR, "70-keep.toml", File),
            ],
            apply: vec![(USR, "70-keep.toml")],
            masks: vec![(ETC, "50-x.toml")],
            overridden: vec![
                ((USR, "50-x.toml"), (ETC, "50-x.toml"), true),
                ((RUN, "50-x.toml"), (ETC, "50-x.toml"), true),
            ],
            warnings: vec![],
        },
        Case {
            what: "a mask in /run is itself replaced by a file in /etc",
            entries: vec![
                e(USR, "50-x.toml", File),
                e(RUN, "50-x.toml", Mask),
                e(ETC, "50-x.toml", File),
            ],
            apply: vec![(ETC, "50-x.toml")],
            masks: vec![],
            overridden: vec![
                ((USR, "50-x.toml"), (ETC, "50-x.toml"), false),
                ((RUN, "50-x.toml"), (ETC, "50-x.toml"), false),
            ],
            warnings: vec![],
        },
        Case {
            what: "a mask with nothing under it",
            entries: vec![e(ETC, "50-x.toml", Mask)],
            apply: vec![],
            masks: vec![(ETC, "50-x.toml")],
            overridden: vec![],
            warnings: vec![],
        },
        Case {
            what: "other files are skipped with a warning and override nothing",
            entries: vec![
                e(USR, "50-x.toml", File),
                e(ETC, "50-x.toml", other("a directory")),
                e(ETC, "60-y.yaml", File),
                e(RUN, "60-y.conf", File),
                e(ETC, "README", File),
                e(ETC, "50-x.toml~", File),
                e(RUN, "70-z.toml", other("a dangling symlink")),
                e(ETC, "80-w.conf", Mask),
            ],
            apply: vec![(USR, "50-x.toml")],
            masks: vec![],
            overridden: vec![],
            warnings: vec![
                format!(
                    "{}: ignored: only *.toml files are read",
                    p(RUN, "60-y.conf")
                ),
                format!("{}: ignored: a dangling symlink", p(RUN, "70-z.toml")),
                format!("{}: ignored: a directory", p(ETC, "50-x.toml")),
                format!(
                    "{}: ignored: only *.toml files are read",
                    p(ETC, "50-x.toml~")
                ),
                format!(
                    "{}: ignored: only *.toml files are read",
                    p(ETC, "60-y.yaml")
                ),
                format!(
                    "{}: ignored: only *.toml files are read",
                    p(ETC, "80-w.conf")
                ),
                format!("{}: ignored: only *.toml files are read", p(ETC, "README")),
            ],
        },
    ];
    let dirs = dirs();
    for c in cases {
        let sel = select(&dirs, c.entries);
        let apply: Vec<DropIn> = c
            .apply
            .iter()
            .map(|(dir, name)| DropIn {
                dir: *dir,
                name: name.to_string(),
            })
            .collect();
        assert_eq!(sel.apply, apply, "{}: apply", c.what);
        let masks: Vec<PathBuf> = c.masks.iter().map(|(d, n)| p(*d, n).into()).collect();
        assert_eq!(sel.masks, masks, "{}: masks", c.what);
        let overridden: Vec<Overridden> = c
            .overridden
            .iter()
            .map(|((fd, f), (bd, b), masked)| Overridden {
                file: p(*fd, f).into(),
                by: p(*bd, b).into(),
                masked: *masked,
            })
            .collect();
        assert_eq!(sel.overridden, overridden, "{}: overridden", c.what);
        let warnings: Vec<String> = sel.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(warnings, c.warnings, "{}: warnings", c.what);
    }
}

#[test]
fn select_non_utf8_name() {
    let name = OsString::from_vec(b"50-\xff.toml".to_vec());
    let entries = vec![Entry {
        dir: ETC,
        name,
        kind: Kind::File,
    }];
    let sel = select(&dirs(), entries);
    assert!(sel.apply.is_empty());
    assert_eq!(sel.warnings.len(), 1);
    assert!(sel.warnings[0]
        .to_string()
        .ends_with("ignored: the file name is not valid UTF-8"));
}
