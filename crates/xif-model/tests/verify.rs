//! One test per Verify rule: each is a small hand-written `extension.toml` and the exact set of
//! diagnostics it must give, with their code, line and column (1-based) and a piece of the message.
//! Parse errors (E001–E007) and Verify errors come out together, as `xif verify` shows them.
use xif_model::diag::{self, Diagnostic};

/// Everything `xif verify` would say about the definition alone: parse errors, then Verify's.
fn diagnostics(src: &str) -> Vec<Diagnostic> {
    let (def, mut diags) = xif_model::parse(src);
    if let Some(def) = &def {
        diags.extend(xif_model::verify::verify(def));
    }
    diags
}

fn listing(src: &str, diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| {
            let (l, c) = d.line_col(src).unwrap_or((0, 0));
            format!("  ({:?}, {l}, {c}, {:?})  help: {:?}", d.code, d.message, d.help)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that `src` gives exactly the diagnostics `expected` (code, line, column, a piece of the
/// message), in any order, that codes `E…` are errors and `W…` warnings, and that every diagnostic
/// says how to fix it.
#[track_caller]
fn check(src: &str, expected: &[(&str, usize, usize, &str)]) -> Vec<Diagnostic> {
    let diags = diagnostics(src);
    let mut actual: Vec<(usize, usize, &str, &Diagnostic)> = diags
        .iter()
        .map(|d| {
            let (l, c) = d.line_col(src).unwrap_or_else(|| panic!("{} has no place: {}", d.code, d.message));
            (l, c, d.code, d)
        })
        .collect();
    actual.sort_by_key(|(l, c, code, _)| (*l, *c, *code));
    let mut want: Vec<(usize, usize, &str, &str)> =
        expected.iter().map(|(code, l, c, m)| (*l, *c, *code, *m)).collect();
    want.sort_by_key(|(l, c, code, _)| (*l, *c, *code));
    let got_keys: Vec<(&str, usize, usize)> = actual.iter().map(|(l, c, code, _)| (*code, *l, *c)).collect();
    let want_keys: Vec<(&str, usize, usize)> = want.iter().map(|(l, c, code, _)| (*code, *l, *c)).collect();
    assert_eq!(got_keys, want_keys, "diagnostics differ; got:\n{}", listing(src, &diags));
    for ((_, _, _, d), (_, _, _, piece)) in actual.iter().zip(&want) {
        assert!(d.message.contains(piece), "{} message {:?} lacks {piece:?}", d.code, d.message);
        assert_eq!(d.is_error(), d.code.starts_with('E'), "{} has severity {:?}", d.code, d.severity);
        assert!(d.help.as_deref().is_some_and(|h| !h.is_empty()), "{} {:?} has no help", d.code, d.message);
        assert_eq!(d.file, "extension.toml");
    }
    diags
}

/// The help of the diagnostic with this code at this line.
#[track_caller]
fn help(diags: &[Diagnostic], src: &str, code: &str, line: usize) -> String {
    diags
        .iter()
        .find(|d| d.code == code && d.line_col(src).is_some_and(|(l, _)| l == line))
        .and_then(|d| d.help.clone())
        .unwrap_or_else(|| panic!("no {code} with help at line {line}:\n{}", listing(src, diags)))
}

#[test]
fn e001_toml_syntax() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[actions.Greet
"#;
    check(src, &[("E001", 4, 15, "invalid TOML: unclosed table")]);

    let src = r#"[extension]
name = "A"
name = "B"
"#;
    check(src, &[("E001", 3, 1, "duplicate key")]);
}

#[test]
fn e002_missing_extension_section() {
    let src = r#"[actions.Greet]
inputs = { Who = "Text" }
"#;
    let diags = check(src, &[("E002", 1, 1, "missing `[extension]` section")]);
    assert!(help(&diags, src, "E002", 1).contains("name = \"MyExtension\""));

    // A name written outside any section says where it belongs.
    let src = r#"name = "Test"
[actions.Greet]
inputs = { Who = "Text" }
"#;
    let diags = check(src, &[("E004", 1, 1, "`name` outside any section"), ("E002", 1, 1, "missing `[extension]`")]);
    assert!(help(&diags, src, "E004", 1).contains("under [extension]"));
}

#[test]
fn e003_missing_name() {
    let src = r#"[extension]
description = "A test."
"#;
    // Only E003: the empty name is not reported again as an illegal one.
    let diags = check(src, &[("E003", 1, 1, "the extension has no name")]);
    assert!(help(&diags, src, "E003", 1).contains("name = \"MyExtension\""));
}

#[test]
fn e004_unknown_key_with_suggestion() {
    let src = r#"[extension]
name = "Test"
descripton = "A test."
[structures.Person]
Name = { type = "Text", lenght = 50 }
[actions.Greet]
input = { Who = "Person" }
outputs = { Message = { type = "Text", mandatory = false } }
[resources]
file = ["words.txt"]
"#;
    let diags = check(
        src,
        &[
            ("W090", 2, 9, "extension Test has no description"),
            ("E004", 3, 1, "unknown key `descripton` in [extension]"),
            ("W091", 4, 13, "structure Person is not used"),
            ("E004", 5, 25, "unknown key `lenght` in attribute `Name`"),
            ("E004", 7, 1, "unknown key `input` in [actions.Greet]"),
            ("E004", 8, 40, "unknown key `mandatory` in output `Message`"),
            ("E004", 10, 1, "unknown key `file` in [resources]"),
        ],
    );
    assert!(help(&diags, src, "E004", 3).starts_with("did you mean `description`?"));
    assert!(help(&diags, src, "E004", 5).starts_with("did you mean `length`?"));
    assert!(help(&diags, src, "E004", 7).starts_with("did you mean `inputs`?"));
    assert!(help(&diags, src, "E004", 10).starts_with("did you mean `files`?"));
    let h = help(&diags, src, "E004", 8);
    assert!(!h.contains("did you mean"), "{h}");
    assert!(h.contains("output `Message` takes: type, description"), "{h}");
}

#[test]
fn e005_wrong_kind_of_value() {
    let src = r#"[extension]
name = 5
description = "A test."
[structures.Person]
Age = 5
Name = { type = "Text", mandatory = "yes" }
Code = { type = "Text", length = "10" }
[actions.Greet]
inputs = "Person"
[resources]
files = "words.txt"
"#;
    check(
        src,
        &[
            ("E005", 2, 8, "`name` must be a string, not an integer"),
            ("W091", 4, 13, "structure Person is not used"),
            ("E005", 5, 7, "attribute `Age` must be a type name"),
            ("E005", 6, 37, "`mandatory` must be `true` or `false`, not a string"),
            ("E005", 7, 34, "`length` must be a whole number, not a string"),
            ("E005", 9, 10, "`inputs` must be a table, not a string"),
            ("E005", 11, 9, "`files` must be an array of paths, not a string"),
        ],
    );
}

#[test]
fn e006_unknown_section() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[action.Greet]
inputs = { Who = "Text" }
[widgets.Button]
Label = "Text"
"#;
    let diags =
        check(src, &[("E006", 4, 2, "unknown section `[action]`"), ("E006", 6, 2, "unknown section `[widgets]`")]);
    assert!(help(&diags, src, "E006", 4).starts_with("did you mean `[actions]`?"));
    assert!(help(&diags, src, "E006", 6).starts_with("the sections are: extension, structures"));
}

#[test]
fn e007_field_without_type() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[structures.Person]
Age = { default = 0 }
Name = "Text"
[actions.Greet]
inputs = { Who = "Person", Polite = { default = true } }
"#;
    let diags =
        check(src, &[("E007", 5, 1, "attribute `Age` has no type"), ("E007", 8, 28, "input `Polite` has no type")]);
    assert!(help(&diags, src, "E007", 5).contains("Age = { type = \"Text\""));
}

#[test]
fn e010_illegal_name() {
    let src = r#"[extension]
name = "My-Ext"
description = "A test."
[structures."First Name"]
Value = "Text"
[actions.9Lives]
inputs = { _Who = "Text" }
"#;
    check(
        src,
        &[
            (
                "E010",
                2,
                9,
                "invalid extension name \"My-Ext\": a name may contain only letters, digits and `_`, not '-'",
            ),
            ("E010", 4, 13, "invalid structure name \"First Name\""),
            ("W091", 4, 13, "structure First Name is not used"),
            ("E010", 6, 10, "invalid action name \"9Lives\": a name must start with a letter, not '9'"),
            ("E010", 7, 12, "invalid input name \"_Who\""),
        ],
    );

    let src = r#"[extension]
name = ""
description = "A test."
"#;
    check(src, &[("E010", 2, 9, "a name cannot be empty")]);
}

#[test]
fn e011_name_longer_than_50() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[actions.ThisActionNameIsFarTooLongForXifToAcceptItAsAName12]
inputs = { ThisActionNameIsFarTooLongForXifToAcceptItAsAName1 = "Text" }
"#;
    let diags = check(src, &[("E011", 4, 10, "at most 50 characters long; this one has 51")]);
    assert!(help(&diags, src, "E011", 4).contains("at most 50"));
}

#[test]
fn e012_entity_attribute_longer_than_28() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Id = { type = "Long Integer", identifier = true, auto_number = true }
VisitorsFavouriteColourName1 = "Text"
VisitorsFavouriteColourName12 = "Text"
[structures.Person]
VisitorsFavouriteColourName12 = "Text"
[actions.Greet]
inputs = { Who = "Person" }
"#;
    check(
        src,
        &[("E012", 7, 1, "invalid entity attribute name \"VisitorsFavouriteColourName12\": a name is at most 28")],
    );
}

#[test]
fn e013_duplicate_names_in_each_scope() {
    // Structures.
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.Person]
Name = "Text"
[structures.PERSON]
Name = "Text"
[actions.Greet]
inputs = { Who = "Person", Other = "PERSON" }
"#,
        &[("E013", 6, 13, "duplicate structure name \"PERSON\"")],
    );
    // Entities.
    check(
        r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Id = { type = "Long Integer", identifier = true }
[entities.visit]
Id = { type = "Long Integer", identifier = true }
"#,
        &[("E013", 6, 11, "duplicate entity name \"visit\"")],
    );
    // Actions.
    check(
        r#"[extension]
name = "Test"
description = "A test."
[actions.Greet]
inputs = { Who = "Text" }
[actions.greet]
inputs = { Who = "Text" }
"#,
        &[("E013", 6, 10, "duplicate action name \"greet\"")],
    );
    // Settings.
    check(
        r#"[extension]
name = "Test"
description = "A test."
[settings]
ApiKey = { type = "Text", secret = true }
APIKEY = "Text"
"#,
        &[("E013", 6, 1, "duplicate setting name \"APIKEY\"")],
    );
    // Attributes of a structure and of an entity.
    let src = r#"[extension]
name = "Test"
description = "A test."
[structures.Person]
Name = "Text"
name = "Text"
[entities.Visit]
Id = { type = "Long Integer", identifier = true }
Who = "Text"
WHO = "Text"
[actions.Greet]
inputs = { Who = "Person" }
"#;
    let diags = check(
        src,
        &[
            ("E013", 6, 1, "duplicate attribute name \"name\" in structure Person"),
            ("E013", 10, 1, "duplicate attribute name \"WHO\" in entity Visit"),
        ],
    );
    let d = diags.iter().find(|d| d.code == "E013").unwrap();
    assert_eq!(d.label.as_deref(), Some("\"Name\" is already defined"));
    // Parameters: inputs and outputs of one action share one scope; reported once (no E014 too).
    check(
        r#"[extension]
name = "Test"
description = "A test."
[actions.Greet]
inputs = { Who = "Text", WHO = "Text" }
outputs = { who = "Text" }
"#,
        &[
            ("E013", 5, 26, "duplicate parameter name \"WHO\" in action Greet"),
            ("E013", 6, 13, "duplicate parameter name \"who\" in action Greet"),
        ],
    );
}

#[test]
fn e014_names_that_map_to_one_identifier() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[structures.FirstName]
Line_2 = "Text"
Line2 = "Text"
[actions.first_name]
inputs = { Who = "FirstName", FirstName = "Text" }
outputs = { first_name = "Text" }
[settings]
Api_Key = "Text"
ApiKey = "Text"
"#;
    let diags = check(
        src,
        &[
            ("E014", 6, 1, "attribute Line_2 and attribute Line2 both map to the identifier `line2`"),
            ("E014", 7, 10, "structure FirstName and action first_name both map to the identifier `first-name`"),
            ("E014", 9, 13, "input FirstName and output first_name both map to the identifier `first-name`"),
            ("E014", 12, 1, "setting Api_Key and setting ApiKey both map to the identifier `api-key`"),
        ],
    );
    assert!(help(&diags, src, "E014", 6).contains("rename one of them"));

    // An action's output record is in the same scope as structures: `GreetOutput` is taken by `Greet`.
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.GreetOutput]
Message = "Text"
[actions.Greet]
inputs = { Who = "GreetOutput" }
outputs = { Message = "Text" }
"#,
        &[(
            "E014",
            6,
            10,
            "structure GreetOutput and the output record of action Greet (GreetOutput) both map to the identifier `greet-output`",
        )],
    );
}

#[test]
fn e015_structure_and_entity_share_a_name() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.Visit]
Who = "Text"
[entities.visit]
Id = { type = "Long Integer", identifier = true }
[actions.Greet]
inputs = { Who = "Visit" }
"#,
        &[("E015", 6, 11, "structure Visit and entity visit both map to the identifier `visit`")],
    );
}

#[test]
fn e016_reserved_names() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[structures.Date]
Day = "Text"
[structures.Vec]
Items = "Text"
[entities.Result]
Id = { type = "Text", identifier = true }
[actions.ActionError]
inputs = { When = "Date", Items = "Vec", Ctx = "Context" }
[structures.Context]
Text = "Text"
"#;
    let diags = check(
        src,
        &[
            ("E016", 4, 13, "structure Date maps to `date`, a name Xif reserves for its own types"),
            // "Date" in a type is the basic type, so the structure can never be used.
            ("W091", 4, 13, "structure Date is not used"),
            ("E016", 6, 13, "structure Vec maps to `vec`"),
            ("E016", 8, 11, "entity Result maps to `result`"),
            ("E016", 10, 10, "action ActionError maps to `action-error`"),
            // The glue's `Context` trait (`.context(…)` on results) lives beside the types.
            ("E016", 12, 13, "structure Context maps to `context`"),
        ],
    );
    assert!(help(&diags, src, "E016", 4).contains("reserved: date, time, date-time, action-error, context"));
}

#[test]
fn e017_description_longer_than_255() {
    let long = "x".repeat(256);
    let fits = "y".repeat(255);
    let src = format!(
        r#"[extension]
name = "Test"
description = "{fits}"
[actions.Greet]
description = "{long}"
inputs = {{ Who = {{ type = "Text", description = "{long}" }} }}
"#
    );
    check(
        &src,
        &[
            ("E017", 5, 15, "description is 256 characters long; the limit is 255"),
            ("E017", 6, 49, "description is 256 characters long"),
        ],
    );
}

#[test]
fn e020_unknown_type_with_suggestion() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[structures.Person]
Born = "DateTime"
Name = { type = "string" }
Tags = "Map<Text>"
Items = "List of Long integer"
[structures.Number]
Value = "Integer"
[actions.Greet]
inputs = { Who = "Person", N = "Number", Ns = "List of Number", D = "Float" }
"#;
    let diags = check(
        src,
        &[
            ("E020", 5, 9, "unknown type \"DateTime\" for attribute `Born`"),
            ("E020", 6, 18, "unknown type \"string\" for attribute `Name`"),
            ("E020", 7, 9, "unknown type \"Map<Text>\""),
            ("E020", 8, 10, "unknown type \"Long integer\" for attribute `Items`"),
            ("E020", 12, 70, "unknown type \"Float\" for input `D`"),
        ],
    );
    // A structure may be called like another spelling of a basic type: `Number` above is that structure.
    assert_eq!(help(&diags, src, "E020", 12), "did you mean \"Decimal\"?");
    assert_eq!(help(&diags, src, "E020", 5), "did you mean \"Date Time\"?");
    assert_eq!(help(&diags, src, "E020", 6), "did you mean \"Text\"?");
    assert!(help(&diags, src, "E020", 7).contains("a type is one of Text, Integer"));
    assert_eq!(help(&diags, src, "E020", 8), "did you mean \"Long Integer\"?");
}

#[test]
fn e021_unknown_structure_or_entity() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[structures.Person]
Name = "Text"
[actions.Greet]
inputs = { Who = "Persn", Other = "person" }
outputs = { Items = "List of Txt", Found = "Person", Gone = "Ghost" }
"#;
    let diags = check(
        src,
        &[
            ("E021", 7, 19, "unknown structure or entity \"Persn\" in the type of input `Who`"),
            ("E021", 7, 36, "unknown structure or entity \"person\" in the type of input `Other`"),
            ("E021", 8, 22, "unknown structure or entity \"Txt\" in the type of output `Items`"),
            ("E021", 8, 62, "unknown structure or entity \"Ghost\""),
        ],
    );
    assert_eq!(help(&diags, src, "E021", 7), "did you mean \"Person\"?");
    let other = diags.iter().find(|d| d.message.contains("\"person\"")).and_then(|d| d.help.clone()).unwrap();
    assert!(other.starts_with("did you mean \"Person\"? Names of types are written as defined"), "{other}");
    assert_eq!(help(&diags, src, "E021", 8), "did you mean \"Text\"?");
    let ghost = diags.iter().find(|d| d.message.contains("Ghost")).and_then(|d| d.help.clone()).unwrap();
    assert!(ghost.contains("define `[structures.Ghost]`"), "{ghost}");
}

#[test]
fn e022_recursive_structures() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.Node]
Value = "Text"
Next = "Node"
[structures.A]
B = "B"
[structures.B]
As = "List of A"
[actions.Walk]
inputs = { Start = "Node", Other = "A" }
"#,
        &[
            ("E022", 6, 9, "structure Node contains itself through attribute Next"),
            ("E022", 8, 6, "structure A contains itself through attribute B"),
            ("E022", 10, 7, "structure B contains itself through attribute As"),
        ],
    );
}

#[test]
fn e023_identifier_of_no_entity() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[structures.Person]
Name = "Text"
[actions.Find]
inputs = { Id = "Visit Identifier", P = "Person Identifier", Who = "Person" }
"#;
    let diags = check(
        src,
        &[
            ("E023", 7, 18, "\"Visit Identifier\" names no entity"),
            ("E023", 7, 42, "\"Person Identifier\" names no entity"),
        ],
    );
    let person = diags.iter().find(|d| d.message.contains("Person Identifier")).and_then(|d| d.help.clone()).unwrap();
    assert!(person.contains("\"Person\" is a structure; only entities have identifiers"), "{person}");
    assert!(help(&diags, src, "E023", 7).contains("define `[entities.Visit]`"));
}

#[test]
fn e030_default_does_not_fit_its_type() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[structures.Defaults]
Small = { type = "Integer", default = 2147483648 }
Day = { type = "Date", default = "2023-02-30" }
At = { type = "Time", default = "25:00:00" }
Price = { type = "Decimal", default = "12,50" }
Name = { type = "Text", default = true }
Code = { type = "Text", length = 3, default = "ABCD" }
When = { type = "Date Time", default = "2024-05-01 08:30" }
Flag = { type = "Boolean", default = "yes" }
Big = { type = "Long Integer", default = 1.5 }
Cost = { type = "Decimal", length = 5, decimals = 2, default = "1234.5" }
Rate = { type = "Decimal", length = 5, decimals = 2, default = "1.125" }
Total = { type = "Decimal", length = 3, default = "12.34" }
Fits1 = { type = "Integer", default = -2147483648 }
Fits2 = { type = "Decimal", length = 5, decimals = 2, default = 123.45 }
Fits3 = { type = "Date", default = 2024-02-29 }
Fits4 = { type = "Date Time", default = "2024-05-01T08:30:00+02:00" }
Fits5 = { type = "Text", length = 3, default = "ABC" }
Fits6 = { type = "Time", default = "23:59:59" }
[actions.Use]
inputs = { D = "Defaults" }
"#;
    let diags = check(
        src,
        &[
            ("E030", 5, 39, "default of attribute `Small` does not fit its type Integer: 2147483648 is outside"),
            ("E030", 6, 34, "\"2023-02-30\" is not a valid date"),
            ("E030", 7, 33, "\"25:00:00\" is not a valid time"),
            ("E030", 8, 39, "\"12,50\" is not a decimal number"),
            ("E030", 9, 35, "`true` is not of type Text"),
            ("E030", 10, 47, "default of attribute `Code` is longer than its length 3"),
            ("E030", 11, 40, "is not an RFC 3339 date and time"),
            ("E030", 12, 38, "the text \"yes\" is not of type Boolean"),
            ("E030", 13, 42, "the number 1.5 is not of type Long Integer"),
            (
                "E030",
                14,
                64,
                "default of attribute `Cost` has 4 digits before the decimal point; length 5 with 2 decimals allows 3",
            ),
            ("E030", 15, 64, "default of attribute `Rate` has 3 decimals; at most 2 are allowed"),
            ("E030", 16, 51, "default of attribute `Total` has 4 digits; its length is 3"),
        ],
    );
    assert!(help(&diags, src, "E030", 5).contains("-2147483648 to 2147483647"));
    assert!(help(&diags, src, "E030", 6).contains("YYYY-MM-DD"));
    assert!(help(&diags, src, "E030", 8).contains("\"12.50\""));
}

#[test]
fn e031_type_takes_no_default() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.Person]
Name = "Text"
[structures.Holder]
P = { type = "Person", default = "x" }
Tags = { type = "List of Text", default = [] }
Data = { type = "Binary Data", default = "" }
[actions.Use]
inputs = { H = "Holder" }
"#,
        &[
            ("E031", 7, 34, "attribute `P` of type Person cannot have a default"),
            ("E031", 8, 43, "attribute `Tags` of type List of Text cannot have a default"),
            ("E031", 9, 42, "attribute `Data` of type Binary Data cannot have a default"),
        ],
    );
}

#[test]
fn e040_entity_without_identifier() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Who = "Text"
"#;
    let diags = check(src, &[("E040", 4, 11, "entity Visit has no identifier")]);
    assert!(help(&diags, src, "E040", 4).contains("identifier = true"));
}

#[test]
fn e041_entity_with_several_identifiers() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Id = { type = "Long Integer", identifier = true }
Code = { type = "Text", identifier = true }
"#;
    let diags = check(src, &[("E041", 6, 1, "entity Visit has more than one identifier")]);
    assert_eq!(diags[0].label.as_deref(), Some("Id is already the identifier"));
}

#[test]
fn e042_auto_number_on_non_integer_or_non_identifier() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Code = { type = "Text", identifier = true, auto_number = true }
Count = { type = "Integer", auto_number = true }
"#,
        &[
            ("E042", 5, 58, "auto_number on attribute Code of type Text"),
            ("E042", 6, 43, "auto_number on attribute Count, which is not the identifier"),
        ],
    );
}

#[test]
fn e043_identifier_type() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Day = { type = "Date", identifier = true }
[entities.Loop]
Id = { type = "Loop Identifier", identifier = true }
[entities.Guest]
Id = { type = "Text", identifier = true }
[entities.Stay]
Id = { type = "Guest Identifier", identifier = true }
Visit = "Visit Identifier"
"#,
        &[
            ("E043", 5, 17, "identifier Day of entity Visit has type Date"),
            ("E043", 7, 16, "identifier Id of entity Loop refers to itself"),
        ],
    );
}

#[test]
fn e044_entity_attribute_of_record_or_list_type() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.Address]
Street = "Text"
[entities.Visit]
Id = { type = "Long Integer", identifier = true }
Where = "Address"
Tags = "List of Text"
"#,
        &[
            ("E044", 8, 10, "entity attribute Where has type Address; entity attributes hold basic types only"),
            ("E044", 9, 9, "entity attribute Tags has type List of Text"),
        ],
    );
}

#[test]
fn e045_record_without_attributes() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.Empty]
description = "Nothing here."
[entities.Nothing]
[actions.Use]
inputs = { E = "Empty" }
"#,
        &[("E045", 4, 13, "structure Empty has no attributes"), ("E045", 6, 11, "entity Nothing has no attributes")],
    );
}

#[test]
fn e046_optional_identifier() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Id = { type = "Long Integer", identifier = true, mandatory = false }
"#;
    let diags = check(src, &[("E046", 5, 62, "identifier Id of entity Visit cannot be optional")]);
    assert!(help(&diags, src, "E046", 5).contains("auto_number"));
}

#[test]
fn e047_identifier_with_default() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Code = { type = "Text", identifier = true, default = "x" }
"#,
        &[("E047", 5, 54, "identifier Code of entity Visit cannot have a default")],
    );
}

/// The schema published with `OLD_ENTITIES`, against which a new definition is checked.
const OLD_ENTITIES: &str = r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Id = { type = "Long Integer", identifier = true, auto_number = true }
Who = { type = "Text", length = 200 }
Count = "Integer"
Price = { type = "Decimal", length = 10, decimals = 2 }
Note = "Text"
"#;

/// The changes from `OLD_ENTITIES` to `new` that a publish refuses (xif_model::schema), as
/// (code, line, column, a piece of the message).
#[track_caller]
fn check_change(new: &str, expected: &[(&str, usize, usize, &str)]) {
    let old = xif_model::parse(OLD_ENTITIES).0.expect("old parses");
    let (def, diags) = xif_model::parse(new);
    let def = def.expect("new parses");
    assert!(diags.is_empty() && xif_model::verify::verify(&def).iter().all(|d| !d.is_error()), "new verifies");
    let got = xif_model::schema::check_against(&old, &def);
    let mut got: Vec<(&str, usize, usize, &Diagnostic)> = got
        .iter()
        .map(|d| {
            let (l, c) = d.line_col(new).expect("a place");
            (d.code, l, c, d)
        })
        .collect();
    got.sort_by_key(|(code, l, c, _)| (*l, *c, *code));
    let keys: Vec<(&str, usize, usize)> = got.iter().map(|(code, l, c, _)| (*code, *l, *c)).collect();
    let want: Vec<(&str, usize, usize)> = expected.iter().map(|(code, l, c, _)| (*code, *l, *c)).collect();
    assert_eq!(keys, want, "got: {:?}", got.iter().map(|g| &g.3.message).collect::<Vec<_>>());
    for ((_, _, _, d), (_, _, _, piece)) in got.iter().zip(expected) {
        assert!(d.message.contains(piece), "{} {:?} lacks {piece:?}", d.code, d.message);
        assert!(d.is_error() && d.help.as_deref().is_some_and(|h| h.contains("force")), "{d:?}");
    }
}

#[test]
fn e100_narrowing_an_entity_attribute() {
    check_change(
        r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Id = { type = "Long Integer", identifier = true, auto_number = true }
Who = { type = "Text", length = 50 }
Count = "Integer"
Price = { type = "Decimal", length = 10, decimals = 1 }
Note = "Text"
"#,
        &[
            (
                "E100",
                6,
                33,
                "attribute Who of entity Visit cannot narrow: it would narrow from length 200 to length 50",
            ),
            ("E100", 8, 53, "attribute Price of entity Visit cannot narrow"),
        ],
    );
    // Long Integer → Integer narrows too; widening, adding and removing are all accepted.
    let mut old = xif_model::parse(OLD_ENTITIES).0.expect("old parses");
    old.entities[0].attributes[2].parsed = Some(xif_model::Type::LongInteger);
    old.entities[0].attributes[2].ty.value = "Long Integer".into();
    let (new, _) = xif_model::parse(OLD_ENTITIES);
    let refused = xif_model::schema::check_against(&old, &new.expect("parses"));
    assert_eq!(refused.len(), 1);
    assert!(refused[0].message.contains("from Long Integer to Integer"), "{}", refused[0].message);
    check_change(
        r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Id = { type = "Long Integer", identifier = true, auto_number = true }
Who = { type = "Text" }
Count = "Long Integer"
Price = { type = "Decimal", length = 12, decimals = 3 }
Email = { type = "Text", default = "nobody@example.com" }
"#,
        &[],
    );
}

#[test]
fn e101_incompatible_type_change() {
    check_change(
        r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Id = { type = "Long Integer", identifier = true, auto_number = true }
Who = { type = "Text", length = 200 }
Count = "Integer"
Price = { type = "Decimal", length = 10, decimals = 2 }
Note = "Boolean"
"#,
        &[(
            "E101",
            9,
            9,
            "attribute Note of entity Visit cannot change type: its type would change from Text to Boolean",
        )],
    );
}

#[test]
fn e102_different_identifier() {
    check_change(
        r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Key = { type = "Long Integer", identifier = true, auto_number = true }
Who = { type = "Text", length = 200 }
"#,
        &[("E102", 5, 1, "the identifier of entity Visit would change from Id to Key")],
    );
}

#[test]
fn e050_length_on_a_type_without_length() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Id = { type = "Long Integer", identifier = true, length = 10 }
Count = { type = "Integer", length = 10 }
[entities.Stay]
Id = { type = "Text", identifier = true }
Visit = { type = "Visit Identifier", length = 5 }
"#,
        &[
            ("E050", 5, 59, "`length` does not apply to attribute `Id` of type Long Integer"),
            ("E050", 6, 38, "`length` does not apply to attribute `Count` of type Integer"),
            ("E050", 9, 47, "`length` does not apply to attribute `Visit` of type Long Integer"),
        ],
    );
}

#[test]
fn e051_decimals_on_a_type_without_decimals() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.Person]
Name = { type = "Text", decimals = 2 }
Age = { type = "Integer", decimals = 0 }
[actions.Use]
inputs = { P = "Person" }
"#,
        &[
            ("E051", 5, 36, "`decimals` does not apply to attribute `Name` of type Text"),
            ("E051", 6, 38, "`decimals` does not apply to attribute `Age` of type Integer"),
        ],
    );
}

#[test]
fn e052_length_out_of_range() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.Limits]
Empty = { type = "Text", length = 0 }
Huge = { type = "Text", length = 2000001 }
Wide = { type = "Decimal", length = 29 }
Negative = { type = "Decimal", length = -1 }
Fits1 = { type = "Text", length = 2000000 }
Fits2 = { type = "Decimal", length = 28, decimals = 28 }
[actions.Use]
inputs = { L = "Limits" }
"#,
        &[
            ("E052", 5, 35, "length 0 of Empty is out of range"),
            ("E052", 6, 34, "length 2000001 of Huge is out of range"),
            ("E052", 7, 37, "length 29 of Wide is out of range"),
            ("E052", 8, 41, "length -1 of Negative is out of range"),
        ],
    );
}

#[test]
fn e053_decimals_out_of_range() {
    let src = r#"[extension]
name = "Test"
description = "A test."
[structures.Money]
Price = { type = "Decimal", length = 5, decimals = 6 }
Rate = { type = "Decimal", decimals = -1 }
Many = { type = "Decimal", decimals = 29 }
[actions.Use]
inputs = { M = "Money" }
"#;
    let diags = check(
        src,
        &[
            ("E053", 5, 52, "decimals 6 of Price is out of range"),
            ("E053", 6, 39, "decimals -1 of Rate is out of range"),
            ("E053", 7, 39, "decimals 29 of Many is out of range"),
        ],
    );
    assert!(help(&diags, src, "E053", 5).contains("from 0 to the length (5)"));
}

#[test]
fn e071_invalid_resource_path() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[resources]
files = [
    "/etc/passwd",
    "../secret.txt",
    'res\words.txt',
    "",
    "C:/words.txt",
    "resources//words.txt",
    "resources/ok.txt",
]
"#,
        &[
            ("E071", 6, 6, "invalid resource path \"/etc/passwd\": the path is absolute"),
            ("E071", 7, 6, "the path must not contain `..`"),
            ("E071", 8, 6, "use `/` to separate folders"),
            ("E071", 9, 6, "the path is empty"),
            ("E071", 10, 6, "the path is absolute"),
            ("E071", 11, 6, "empty parts"),
        ],
    );
}

#[test]
fn e072_resource_listed_twice() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[resources]
files = ["resources/a.txt", "resources/b.txt", "resources/a.txt"]
"#,
        &[("E072", 5, 49, "resource \"resources/a.txt\" is listed twice")],
    );
}

#[test]
fn e080_setting_of_non_basic_type() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.Person]
Name = "Text"
[entities.Visit]
Id = { type = "Long Integer", identifier = true }
[settings]
Owner = "Person"
Tags = "List of Text"
Logo = "Binary Data"
LastVisit = "Visit Identifier"
Fits = { type = "Date Time", default = "2024-01-01T00:00:00Z" }
"#,
        &[
            ("E080", 9, 10, "setting Owner has type Person; settings hold a single basic value"),
            ("E080", 10, 9, "setting Tags has type List of Text"),
            ("E080", 11, 9, "setting Logo has type Binary Data"),
            ("E080", 12, 14, "setting LastVisit has type Visit Identifier"),
        ],
    );
}

#[test]
fn e081_secret_setting_not_text() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[settings]
Pin = { type = "Integer", secret = true }
ApiKey = { type = "Text", secret = true }
"#,
        &[("E081", 5, 17, "secret setting Pin must be Text, not Integer")],
    );
}

#[test]
fn w062_mandatory_field_with_a_default() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[entities.Visit]
Id = { type = "Long Integer", identifier = true, auto_number = true }
Who = { type = "Text", default = "nobody", mandatory = true }
[actions.Greet]
inputs = { Polite = { type = "Boolean", default = true, mandatory = true }, Loud = { type = "Boolean", default = false } }
"#,
        &[
            ("W062", 6, 34, "attribute `Who` is mandatory, so its default is never used"),
            ("W062", 8, 51, "input `Polite` is mandatory, so its default is never used"),
        ],
    );
}

#[test]
fn w092_description_still_the_placeholder() {
    check(
        r#"[extension]
name = "Test"
description = "Say here, in one sentence, what Test does."
[actions.Greet]
inputs = { Who = "Text" }
"#,
        &[("W092", 3, 15, "the description is still the one `xif new` wrote")],
    );
}

#[test]
fn w090_extension_without_description() {
    check(
        r#"[extension]
name = "Test"
[actions.Greet]
inputs = { Who = "Text" }
"#,
        &[("W090", 2, 9, "extension Test has no description")],
    );
}

#[test]
fn w091_structure_nobody_uses() {
    check(
        r#"[extension]
name = "Test"
description = "A test."
[structures.Person]
Name = "Text"
Home = "Address"
[structures.Address]
Street = "Text"
[structures.Orphan]
Name = "Text"
[actions.Greet]
outputs = { People = "List of Person" }
"#,
        &[("W091", 9, 13, "structure Orphan is not used by any action or structure")],
    );
}

#[test]
fn many_errors_are_reported_at_once_and_rendered_rustc_style() {
    let src = r#"[extension]
name = "Bad-Name"
[structures.Person]
Born = "DateTime"
[actions.Greet]
inputs = { Who = "Persn" }
outputs = { Count = { type = "Integer", lenght = 3 } }
[entities.Visit]
Who = "Text"
"#;
    let diags = check(
        src,
        &[
            ("E010", 2, 9, "invalid extension name \"Bad-Name\""),
            ("W090", 2, 9, "extension Bad-Name has no description"),
            ("W091", 3, 13, "structure Person is not used"),
            ("E020", 4, 9, "unknown type \"DateTime\""),
            ("E021", 6, 19, "unknown structure or entity \"Persn\""),
            ("E004", 7, 41, "unknown key `lenght` in output `Count`"),
            ("E040", 8, 11, "entity Visit has no identifier"),
        ],
    );
    let text = diag::render(&diags, &|file| (file == "extension.toml").then(|| src.to_string()));
    for piece in [
        "error[E021]: unknown structure or entity \"Persn\" in the type of input `Who`",
        " --> extension.toml:6:19",
        "6 | inputs = { Who = \"Persn\" }",
        "  |                   ^^^^^",
        "  = help: did you mean \"Person\"?",
        "error[E020]: unknown type \"DateTime\" for attribute `Born`",
        " --> extension.toml:4:9",
        "4 | Born = \"DateTime\"",
        "  |         ^^^^^^^^",
        "  = help: did you mean \"Date Time\"?",
        "warning[W090]: extension Bad-Name has no description",
        " --> extension.toml:7:41",
    ] {
        assert!(text.contains(piece), "{piece:?} not in:\n{text}");
    }
    // The caret line puts one `^` under each character of the span.
    let carets = format!("7 | {}\n  | {}^^^^^^\n", src.lines().nth(6).unwrap(), " ".repeat(40));
    assert!(text.contains(&carets), "{carets:?} not in:\n{text}");
    assert_eq!(text.matches("error[").count(), 5, "{text}");
    assert_eq!(text.matches("warning[").count(), 2, "{text}");
    assert_eq!(diag::count_line(&diags), "5 errors, 2 warnings");
}

#[test]
fn count_line_reads_errors_and_warnings() {
    let src = r#"[extension]
name = "Test"
[actions.Greet]
inputs = { Who = "Persn" }
outputs = { At = "DateTime" }
"#;
    let diags = check(
        src,
        &[
            ("W090", 2, 9, "has no description"),
            ("E021", 4, 19, "\"Persn\""),
            ("E020", 5, 19, "unknown type \"DateTime\""),
        ],
    );
    assert_eq!(diag::count_line(&diags), "2 errors, 1 warning");
    assert_eq!(diag::count_line(&diags[..1]), "0 errors, 1 warning");
    assert_eq!(diag::count_line(&[]), "0 errors, 0 warnings");
}

#[test]
fn multi_line_help_stays_in_the_gutter() {
    let src = "[actions.Greet]\ninputs = { Who = \"Text\" }\n";
    let text = diag::render(&diagnostics(src), &|_| Some(src.to_string()));
    assert!(
        text.contains("  = help: start the file with:\n            [extension]\n            name = \"MyExtension\"\n"),
        "{text}"
    );
}

#[test]
fn the_design_example_has_no_errors_and_no_warnings() {
    let src = r#"[extension]
name = "Greetings"
description = "Greets people and keeps a guest book."

[structures.Person]
Name = "Text"
Age = { type = "Integer", default = 0 }

[actions.Greet]
description = "Builds a greeting for a person."
inputs  = { Who = { type = "Person" }, Polite = { type = "Boolean", default = true } }
outputs = { Message = "Text", Length = "Integer" }

[actions.SignGuestBook]
inputs  = { Who = "Text" }
outputs = { VisitId = "Visit Identifier" }

[settings]                            # per-extension settings an administrator sets on the server
ApiKey = { type = "Text", secret = true }

[entities.Visit]                      # exported entity: a table the server provisions
Id    = { type = "Long Integer", identifier = true, auto_number = true }
Who   = { type = "Text", length = 200 }
At    = { type = "Date Time", mandatory = false }

[resources]
files = ["resources/words.txt"]       # packed into the .xif, readable by the code at run time
"#;
    check(src, &[]);
    let (def, _) = xif_model::parse(src);
    let def = def.unwrap();
    assert_eq!(def.name.text, "Greetings");
    let names: Vec<&str> = def.actions.iter().map(|a| a.name.text.as_str()).collect();
    assert_eq!(names, ["Greet", "SignGuestBook"]);
    let attrs: Vec<&str> = def.entities[0].attributes.iter().map(|a| a.name.text.as_str()).collect();
    assert_eq!(attrs, ["Id", "Who", "At"], "attributes keep the order written");
    let greet = &def.actions[0];
    assert!(greet.inputs[0].is_mandatory() && !greet.inputs[1].is_mandatory());
    let visit = def.entity("Visit").unwrap();
    assert!(!visit.attributes[0].is_mandatory(), "an auto-numbered identifier is not mandatory");
    assert!(visit.attributes[1].is_mandatory() && !visit.attributes[2].is_mandatory());
}
