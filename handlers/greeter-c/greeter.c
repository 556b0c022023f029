/*
 * greeter: a microhost handler in C. Greeter.Hello answers {"name":"John"} with
 * {"greeting":"Hello John"}. Build it with `make`; see README.md.
 */
#include "microhost.h"

/* hello copies the name's JSON string bytes between the quotes verbatim: the reply is JSON
 * too, so escapes such as \" and \u00e9 stay valid as they are. */
static int hello(const mh_request *req) {
    const uint8_t *name;
    size_t name_len = 0;
    switch (mh_json_string_field(req->body, req->body_len, "name", &name, &name_len)) {
    case MH_JSON_MALFORMED:
        return mh_error(400, "malformed JSON request for Greeter.Hello");
    case MH_JSON_ABSENT:
        name_len = 0;
        break;
    }
    if (name_len == 0) return mh_error(400, "name is required");
    mh_buf out = {0};
    mh_buf_append_str(&out, "{\"greeting\":\"Hello ");
    mh_buf_append(&out, name, name_len);
    mh_buf_append_str(&out, "\"}");
    int status = mh_reply_buf(&out);
    mh_buf_free(&out);
    return status;
}

static const mh_endpoint endpoints[] = {
    {"Greeter.Hello", "HelloRequest", "HelloResponse", hello},
};

MH_HANDLER_MODULE("greeter", "1.0.0", endpoints)
