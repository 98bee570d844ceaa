//! `xif_model::api::diff`, case by case: each kind of change to the callable surface, classified
//! compatible or breaking, with its message, what a caller would see, and its place in
//! `extension.toml`.
use xif_model::api::{ApiChange, ChangeKind, diff};

const BASE: &str = r#"[extension]
name = "Shop"
description = "Sells things."

[structures.Item]
Name = { type = "Text", length = 50 }
Price = "Decimal"

[structures.Receipt]
Total = "Decimal"
Note = "Text"

[structures.Unused]
Whatever = "Text"

[actions.Buy]
description = "Buys an item."
inputs = { Item = "Item", Count = { type = "Integer", default = 1 }, Code = { type = "Text", length = 10 } }
outputs = { Receipt = "Receipt", Id = { type = "Text", length = 20 } }

[actions.Refund]
inputs = { Id = "Text" }
outputs = { Ok = "Boolean" }
"#;

fn parse(src: &str) -> xif_model::Definition {
    let (def, diags) = xif_model::parse(src);
    let def = def.unwrap_or_else(|| panic!("{diags:?}"));
    let errors: Vec<_> = xif_model::verify::verify(&def).into_iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "the definition is valid: {errors:?}\n{src}");
    def
}

/// The changes from BASE to BASE with `from` replaced by `to`.
fn changes(from: &str, to: &str) -> (String, Vec<ApiChange>) {
    assert!(BASE.contains(from), "{from}");
    let new = BASE.replacen(from, to, 1);
    let changes = diff(&parse(BASE), &parse(&new));
    (new, changes)
}

/// Line and column of the first `needle` in `src`.
fn at(src: &str, needle: &str) -> (usize, usize) {
    let i = src.find(needle).unwrap_or_else(|| panic!("{needle} not in {src}"));
    let before = &src[..i];
    (before.matches('\n').count() + 1, i - before.rfind('\n').map(|n| n + 1).unwrap_or(0) + 1)
}

/// Line and column of the first `needle` after `anchor` in `src`.
fn at_after(src: &str, anchor: &str, needle: &str) -> (usize, usize) {
    let from = src.find(anchor).unwrap_or_else(|| panic!("{anchor} not in {src}"));
    let i = from + src[from..].find(needle).unwrap_or_else(|| panic!("{needle} not after {anchor}"));
    let before = &src[..i];
    (before.matches('\n').count() + 1, i - before.rfind('\n').map(|n| n + 1).unwrap_or(0) + 1)
}

/// Asserts exactly one change, of `kind`, `breaking` or not, its message, its caller text
/// containing `caller`, and its location.
fn one(
    new: &str,
    list: &[ApiChange],
    kind: ChangeKind,
    breaking: bool,
    message: &str,
    caller: &str,
    place: (usize, usize),
) {
    assert_eq!(list.len(), 1, "{list:#?}");
    let c = &list[0];
    assert_eq!((c.kind, c.breaking, c.message.as_str()), (kind, breaking, message), "{c:#?}");
    assert!(c.caller.contains(caller), "{c:#?}");
    assert_eq!(c.location(BASE, new), Some(place), "{c:#?}");
}

#[test]
fn the_same_definition_has_no_changes_and_an_unused_structure_is_nobodys() {
    assert!(diff(&parse(BASE), &parse(BASE)).is_empty());
    let (_, list) =
        changes("Whatever = \"Text\"", "Whatever = \"Integer\"\nMore = { type = \"Text\", mandatory = true }");
    assert!(list.is_empty(), "{list:#?}");
}

#[test]
fn an_action_added_is_compatible() {
    let (new, list) =
        changes("[actions.Refund]", "[actions.Track]\noutputs = { Where = \"Text\" }\n\n[actions.Refund]");
    one(&new, &list, ChangeKind::ActionAdded, false, "action Track is added", "nothing", at(&new, "Track]"));
}

#[test]
fn an_action_removed_breaks_and_points_into_the_old_definition() {
    let (new, list) = changes("[actions.Refund]\ninputs = { Id = \"Text\" }\noutputs = { Ok = \"Boolean\" }\n", "");
    assert_eq!(list.len(), 1, "{list:#?}");
    let c = &list[0];
    assert_eq!((c.kind, c.breaking, c.in_old), (ChangeKind::ActionRemoved, true, true));
    assert_eq!(c.message, "action Refund is removed");
    assert!(c.caller.contains("404"), "{c:?}");
    assert_eq!(c.location(BASE, &new), Some(at(BASE, "Refund]")));
}

#[test]
fn an_optional_input_added_is_compatible() {
    let (new, list) = changes("length = 10 } }", "length = 10 }, Gift = { type = \"Boolean\", default = false } }");
    one(
        &new,
        &list,
        ChangeKind::OptionalInputAdded,
        false,
        "action Buy has a new optional input Gift",
        "default",
        at(&new, "Gift ="),
    );
}

#[test]
fn a_mandatory_input_added_breaks() {
    let (new, list) = changes("length = 10 } }", "length = 10 }, Who = \"Text\" }");
    one(
        &new,
        &list,
        ChangeKind::MandatoryInputAdded,
        true,
        "action Buy has a new mandatory input Who",
        "calls without Who are refused (400 bad_input)",
        at(&new, "Who ="),
    );
}

#[test]
fn an_input_removed_breaks() {
    let (new, list) = changes(", Code = { type = \"Text\", length = 10 } }", " }");
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!((list[0].kind, list[0].breaking), (ChangeKind::InputRemoved, true));
    assert_eq!(list[0].message, "input Code of action Buy is removed");
    assert_eq!(list[0].location(BASE, &new), Some(at(BASE, "Code =")));
}

#[test]
fn an_input_made_mandatory_breaks() {
    let (new, list) = changes("Count = { type = \"Integer\", default = 1 }", "Count = \"Integer\"");
    one(
        &new,
        &list,
        ChangeKind::InputMadeMandatory,
        true,
        "input Count of action Buy is now mandatory",
        "calls without Count",
        at(&new, "Count ="),
    );
}

#[test]
fn an_input_made_optional_is_compatible() {
    let (new, list) = changes("length = 10 }", "length = 10, mandatory = false }");
    one(
        &new,
        &list,
        ChangeKind::InputMadeOptional,
        false,
        "input Code of action Buy is now optional",
        "leave it out",
        at(&new, "Code ="),
    );
}

#[test]
fn an_inputs_default_changed_is_compatible_and_said() {
    let (new, list) = changes("default = 1", "default = 2");
    one(
        &new,
        &list,
        ChangeKind::InputDefaultChanged,
        false,
        "the default of input Count of action Buy changed",
        "new default",
        at(&new, "2 }"),
    );
}

#[test]
fn an_input_widened_is_compatible() {
    let (new, list) = changes("Count = { type = \"Integer\"", "Count = { type = \"Long Integer\"");
    one(
        &new,
        &list,
        ChangeKind::InputWidened,
        false,
        "input Count of action Buy is widened from Integer to Long Integer",
        "still is",
        at(&new, "Long Integer\""),
    );
}

#[test]
fn an_input_narrowed_breaks() {
    let old = BASE.replacen("Count = { type = \"Integer\"", "Count = { type = \"Long Integer\"", 1);
    let list = diff(&parse(&old), &parse(BASE));
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!((list[0].kind, list[0].breaking), (ChangeKind::InputNarrowed, true));
    assert_eq!(list[0].message, "input Count of action Buy is narrowed from Long Integer to Integer");
    assert!(list[0].caller.contains("are refused (400 bad_input)"), "{:?}", list[0]);
    assert_eq!(list[0].location(&old, BASE), Some(at(BASE, "Integer\", default")));
}

#[test]
fn an_output_added_is_compatible() {
    let (new, list) = changes("length = 20 } }", "length = 20 }, When = \"Date Time\" }");
    one(
        &new,
        &list,
        ChangeKind::OutputAdded,
        false,
        "action Buy has a new output When",
        "one more field",
        at(&new, "When ="),
    );
}

#[test]
fn an_output_removed_breaks() {
    let (new, list) = changes(", Id = { type = \"Text\", length = 20 } }", " }");
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(
        (list[0].kind, list[0].breaking, list[0].message.as_str()),
        (ChangeKind::OutputRemoved, true, "output Id of action Buy is removed")
    );
    assert_eq!(list[0].location(BASE, &new), Some(at(BASE, "Id = { type")));
}

#[test]
fn an_output_widened_breaks_and_narrowed_does_not() {
    let base = BASE.replacen("Ok = \"Boolean\"", "Ok = \"Boolean\", Left = \"Integer\"", 1);
    let wide = base.replacen("Left = \"Integer\"", "Left = \"Long Integer\"", 1);
    let list = diff(&parse(&base), &parse(&wide));
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!((list[0].kind, list[0].breaking), (ChangeKind::OutputWidened, true));
    assert_eq!(list[0].message, "output Left of action Refund is widened from Integer to Long Integer");
    assert!(list[0].caller.contains("do not fit Integer"), "{:?}", list[0]);
    assert_eq!(list[0].location(&base, &wide), Some(at(&wide, "Long Integer\" }")));
    let list = diff(&parse(&wide), &parse(&base));
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!((list[0].kind, list[0].breaking), (ChangeKind::OutputNarrowed, false));
    assert!(list[0].caller.contains("still fits"), "{:?}", list[0]);
}

#[test]
fn a_type_changed_breaks_for_inputs_and_outputs() {
    let (new, list) = changes("Code = { type = \"Text\", length = 10 }", "Code = { type = \"Integer\" }");
    one(
        &new,
        &list,
        ChangeKind::TypeChanged,
        true,
        "input Code of action Buy changed type from Text to Integer",
        "may be refused",
        at(&new, "Integer\" } }"),
    );
    let (new, list) = changes("Ok = \"Boolean\"", "Ok = \"Text\"");
    one(
        &new,
        &list,
        ChangeKind::TypeChanged,
        true,
        "output Ok of action Refund changed type from Boolean to Text",
        "answers carry Text where callers read Boolean",
        at_after(&new, "Ok = ", "Text\""),
    );
}

#[test]
fn a_structure_removed_breaks_beside_the_type_change() {
    let new = BASE
        .replacen("[structures.Item]\nName = { type = \"Text\", length = 50 }\nPrice = \"Decimal\"\n", "", 1)
        .replacen("Item = \"Item\"", "Item = \"Text\"", 1);
    let list = diff(&parse(BASE), &parse(&new));
    let kinds: Vec<_> = list.iter().map(|c| (c.kind, c.breaking)).collect();
    assert_eq!(kinds, [(ChangeKind::TypeChanged, true), (ChangeKind::StructureRemoved, true)], "{list:#?}");
    assert_eq!(list[0].message, "input Item of action Buy changed type from Item to Text");
    assert_eq!(list[1].message, "structure Item is removed");
    assert_eq!(list[1].location(BASE, &new), Some(at(BASE, "Item]")));
}

#[test]
fn an_attribute_added_breaks_only_when_mandatory_in_what_callers_send() {
    let (new, list) =
        changes("Price = \"Decimal\"", "Price = \"Decimal\"\nSku = { type = \"Text\", mandatory = true }");
    one(
        &new,
        &list,
        ChangeKind::AttributeAdded,
        true,
        "structure Item has a new mandatory attribute Sku",
        "Item values sent without Sku are refused",
        at(&new, "Sku ="),
    );
    let (new, list) = changes("Price = \"Decimal\"", "Price = \"Decimal\"\nSku = \"Text\"");
    one(
        &new,
        &list,
        ChangeKind::AttributeAdded,
        false,
        "structure Item has a new attribute Sku",
        "nothing",
        at(&new, "Sku ="),
    );
    // Receipt is only read: a mandatory attribute more is one more field in answers.
    let (new, list) = changes("Note = \"Text\"", "Note = \"Text\"\nTax = { type = \"Decimal\", mandatory = true }");
    one(
        &new,
        &list,
        ChangeKind::AttributeAdded,
        false,
        "structure Receipt has a new mandatory attribute Tax",
        "nothing",
        at(&new, "Tax ="),
    );
}

#[test]
fn an_attribute_removed_breaks() {
    let (new, list) = changes("Note = \"Text\"\n", "");
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!((list[0].kind, list[0].breaking, list[0].in_old), (ChangeKind::AttributeRemoved, true, true));
    assert_eq!(list[0].message, "attribute Note of structure Receipt is removed");
    assert!(list[0].caller.contains("no longer carry Note"), "{:?}", list[0]);
    assert_eq!(list[0].location(BASE, &new), Some(at(BASE, "Note =")));
}

#[test]
fn an_attribute_changed_breaks_where_callers_see_it() {
    // Item is sent: narrowed breaks, widened does not.
    let (new, list) = changes("length = 50", "length = 20");
    one(
        &new,
        &list,
        ChangeKind::AttributeChanged,
        true,
        "attribute Name of structure Item changed from Text (length 50) to Text (length 20)",
        "may no longer fit",
        at(&new, "Text\", length = 20"),
    );
    let (new, list) = changes("length = 50", "length = 100");
    one(
        &new,
        &list,
        ChangeKind::AttributeChanged,
        false,
        "attribute Name of structure Item changed from Text (length 50) to Text (length 100)",
        "nothing",
        at(&new, "Text\", length = 100"),
    );
    // Another type breaks.
    let (new, list) = changes("Total = \"Decimal\"", "Total = \"Text\"");
    one(
        &new,
        &list,
        ChangeKind::AttributeChanged,
        true,
        "attribute Total of structure Receipt changed from Decimal to Text",
        "may no longer fit",
        at(&new, "Text\"\nNote"),
    );
}

#[test]
fn an_attribute_made_mandatory_breaks_in_what_callers_send() {
    let (new, list) = changes("Price = \"Decimal\"", "Price = { type = \"Decimal\", mandatory = true }");
    one(
        &new,
        &list,
        ChangeKind::AttributeMadeMandatory,
        true,
        "attribute Price of structure Item is now mandatory",
        "sent without Price are refused",
        at(&new, "true }"),
    );
}

#[test]
fn descriptions_changed_are_compatible() {
    let (new, list) = changes("description = \"Buys an item.\"", "description = \"Buys one item.\"");
    one(
        &new,
        &list,
        ChangeKind::DescriptionChanged,
        false,
        "the description of action Buy changed",
        "documentation",
        at(&new, "\"Buys one"),
    );
    let (new, list) = changes("description = \"Sells things.\"", "description = \"Sells.\"");
    one(
        &new,
        &list,
        ChangeKind::DescriptionChanged,
        false,
        "the extension's description changed",
        "documentation",
        at(&new, "\"Sells.\""),
    );
}

#[test]
fn several_changes_are_listed_and_breaking_filters_them() {
    let new = BASE.replacen("length = 10 } }", "length = 10 }, Who = \"Text\" }", 1).replacen(
        "Ok = \"Boolean\"",
        "Ok = \"Boolean\", Why = \"Text\"",
        1,
    );
    let all = diff(&parse(BASE), &parse(&new));
    assert_eq!(
        all.iter().map(|c| c.kind).collect::<Vec<_>>(),
        [ChangeKind::MandatoryInputAdded, ChangeKind::OutputAdded]
    );
    let breaking = xif_model::api::breaking(&parse(BASE), &parse(&new));
    assert_eq!(breaking.len(), 1);
    assert_eq!(breaking[0].message, "action Buy has a new mandatory input Who");
}

#[test]
fn a_kinds_name_is_snake_case() {
    let (_, c) = changes("[actions.Refund]", "[actions.Return]");
    let names: Vec<&str> = c.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(names, ["action_added", "action_removed"]);
    assert_eq!(ChangeKind::InputMadeMandatory.as_str(), "input_made_mandatory");
    assert_eq!(ChangeKind::DescriptionChanged.as_str(), "description_changed");
}
