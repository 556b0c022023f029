//! greeter: a microhost handler in Rust. Greeter.Hello answers {"name":"John"} with
//! {"greeting":"Hello John"}. Build it with `make`; see README.md.

use microhost::{json, Error, Request, Result};

fn register() {
    microhost::describe("greeter", "1.0.0");
    let hello_endpoint = microhost::Endpoint::new("Greeter.Hello").request("HelloRequest").response("HelloResponse");
    microhost::handle_endpoint(hello_endpoint, hello);
}

microhost::module!(register);

/// hello copies the name's JSON string bytes between the quotes verbatim: the reply is JSON
/// too, so escapes such as \" and \u00e9 stay valid as they are.
fn hello(req: &Request) -> Result {
    let name = json::string_field(&req.body, "name")
        .map_err(|_| Error::bad_request("malformed JSON request for Greeter.Hello"))?
        .unwrap_or_default();
    if name.is_empty() {
        return Err(Error::bad_request("name is required"));
    }
    Ok(json::Object::new().raw_string("greeting", &[b"Hello ", name].concat()).finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(body: &str) -> Result {
        hello(&Request { endpoint: "Greeter.Hello".to_string(), body: body.as_bytes().to_vec() })
    }

    #[test]
    fn greets() {
        assert_eq!(call(r#"{"name":"John"}"#), Ok(br#"{"greeting":"Hello John"}"#.to_vec()));
    }

    #[test]
    fn refuses() {
        assert_eq!(call(r#"{"name":""}"#), Err(Error::bad_request("name is required")));
        assert_eq!(call(r#"{"name":"#), Err(Error::bad_request("malformed JSON request for Greeter.Hello")));
    }
}
