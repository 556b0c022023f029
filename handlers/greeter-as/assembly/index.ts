// greeter: a microhost handler in AssemblyScript. Greeter.Hello answers {"name":"John"}
// with {"greeting":"Hello John"}. Build it with `make`; see README.md.
import {
  Bytes, JSON_FOUND, JSON_MALFORMED, Request, describe, fail, handle, jsonStringField, reply,
  microhost_abi_version_1, microhost_describe, microhost_handle,
} from "@microhost/guest";

// The ABI's exports, defined by the SDK.
export { microhost_abi_version_1, microhost_describe, microhost_handle };

// Registrations run in the start function, which the host calls as _initialize.
describe("greeter", "1.0.0");
handle("Greeter.Hello", hello, "HelloRequest", "HelloResponse");

// hello copies the name's JSON string bytes between the quotes verbatim: the reply is JSON
// too, so escapes such as \" and \u00e9 stay valid as they are.
function hello(req: Request): i32 {
  const name = jsonStringField(req.body, "name");
  if (name.status == JSON_MALFORMED) return fail(400, "malformed JSON request for Greeter.Hello");
  if (name.status != JSON_FOUND || name.end == name.start) return fail(400, "name is required");
  const out = new Bytes()
    .appendString("{\"greeting\":\"Hello ")
    .append(req.body.subarray(name.start, name.end))
    .appendString("\"}");
  return reply(out.bytes());
}
