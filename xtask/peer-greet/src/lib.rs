//! The example's `Greet` action as a plain `wasi:http` component: the peer `cargo xtask
//! bench-server` runs under `wasmtime serve` beside Xif. It reads the same JSON body
//! (`{"Who": {"Name": "Ada", "Age": 36}, "Polite": true}`) and answers the same greeting as
//! `xif new Greetings`' `Greet` (`{"Message": "Hello, dear Ada! 36 years young.", "Length": 32}`),
//! with none of what Xif adds around it (no token, no typing by a definition, no limits).
use std::io::{Read as _, Write as _};

use wasip2::http::types::{Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

wasip2::http::proxy::export!(Peer);

struct Peer;

impl wasip2::exports::http::incoming_handler::Guest for Peer {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let (status, body) = match answer(&request) {
            Ok(text) => (200, text),
            Err(text) => (400, text),
        };
        let headers = Fields::from_list(&[("content-type".to_string(), b"application/json".to_vec())])
            .unwrap_or_else(|_| Fields::new());
        let response = OutgoingResponse::new(headers);
        let _ = response.set_status_code(status);
        let Ok(out) = response.body() else { return };
        ResponseOutparam::set(response_out, Ok(response));
        if let Ok(mut stream) = out.write() {
            let _ = stream.write_all(body.as_bytes());
            let _ = stream.flush();
        }
        let _ = OutgoingBody::finish(out, None);
    }
}

fn answer(request: &IncomingRequest) -> Result<String, String> {
    let body = request.consume().map_err(|()| r#"{"error": "no body"}"#.to_string())?;
    let mut bytes = Vec::new();
    {
        let mut stream = body.stream().map_err(|()| r#"{"error": "no body stream"}"#.to_string())?;
        stream.read_to_end(&mut bytes).map_err(|e| format!(r#"{{"error": "{e}"}}"#))?;
    }
    drop(IncomingBody::finish(body));
    let input: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| format!(r#"{{"error": "{e}"}}"#))?;
    let who = &input["Who"];
    let name = who["Name"].as_str().unwrap_or("").trim();
    if name.is_empty() {
        return Err(r#"{"error": "Who.Name is empty: say whom to greet"}"#.to_string());
    }
    let age = who["Age"].as_i64().unwrap_or(0);
    let polite = input["Polite"].as_bool().unwrap_or(true);
    let word = "Hello";
    let message = match (polite, age) {
        (true, age) if age > 0 => format!("{word}, dear {name}! {age} years young."),
        (true, _) => format!("{word}, dear {name}!"),
        (false, _) => format!("{word} {name}"),
    };
    let length = message.chars().count();
    Ok(serde_json::json!({ "Message": message, "Length": length }).to_string())
}
