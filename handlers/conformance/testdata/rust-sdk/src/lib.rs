//! A module that exercises the Rust SDK's API beyond the greeter: headers both ways, logs,
//! service calls, publishing, streams, subscribers, JSON strings and panics.

use microhost::{json, Error, Level, Request, Result};

fn register() {
    microhost::describe("rust-sdk", "0.1.0");
    microhost::handle("Sdk.Headers", headers);
    microhost::handle("Sdk.Call", |_| microhost::call("nowhere", "Nowhere.Call", "", b"{}"));
    microhost::handle("Sdk.Publish", |_| microhost::publish("events", b"{}").map(|()| b"published".to_vec()));
    microhost::handle("Sdk.Unescape", |req| {
        let raw = json::string_field(&req.body, "s")?.ok_or_else(|| Error::bad_request("s is required"))?;
        let text = json::unescape(raw).ok_or_else(|| Error::bad_request("bad string"))?;
        Ok(json::Object::new().string("s", &text).int("chars", text.chars().count() as i64).finish())
    });
    microhost::handle("Sdk.Panic", |_| panic!("deliberate"));
    microhost::handle_stream("Sdk.Count", |req, stream| {
        let n: u32 = std::str::from_utf8(&req.body).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(1);
        for i in 1..=n {
            stream.send(json::Object::new().int("n", i as i64).finish().as_slice())?;
        }
        Ok(())
    });
    microhost::handle_stream("Sdk.Echo", |req, stream| {
        stream.send(&req.body)?;
        while let Some(msg) = stream.recv()? {
            stream.send(&msg)?;
        }
        Ok(())
    });
    microhost::subscribe("events", |msg| {
        microhost::log(Level::Debug, &format!("event {}", String::from_utf8_lossy(&msg.body)));
        Ok(())
    });
}

microhost::module!(register);

/// headers reads the request's metadata and content type and answers with them, setting a
/// reply header too.
fn headers(req: &Request) -> Result {
    let trace = req.header("x-trace").unwrap_or_default();
    microhost::info(&format!("trace {trace}"));
    req.set_header("X-Reply", &format!("got {trace}"));
    let absent = req.header("X-Absent").is_none();
    Ok(json::Object::new()
        .string("trace", &trace)
        .string("content_type", &req.content_type())
        .bool("absent", absent)
        .finish())
}
