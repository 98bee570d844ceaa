//! Prints the diagnostics and the WIT world for an extension.toml: `cargo run -p xif-model --example check FILE`.
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        return;
    };
    let Ok(src) = std::fs::read_to_string(&path) else {
        return;
    };
    let (def, mut diags) = xif_model::parse(&src);
    if let Some(def) = &def {
        diags.extend(xif_model::verify::verify(def));
    }
    print!("{}", xif_model::diag::render(&diags, &|_| Some(src.clone())));
    println!("{}", xif_model::diag::count_line(&diags));
    if let Some(def) = def {
        println!("{}", xif_model::wit::extension_wit(&def));
    }
}
