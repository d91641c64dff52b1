// evbuffers: standalone ones (new EvBuffer()) and the input/output of bufferevents. Bytes
// cross into JS only as copies: a pointer into chain memory dies at the next drain.
#include <cstring>

#include "buffered.h"

namespace nle {

BufRec* NewBufRec(struct evbuffer* buf, BevRec* owner) {
  BufRec* r = new BufRec();
  r->buf = buf;
  r->owner = owner;
  Buffered()->bufs.Add(r);
  return r;
}

// Forgets the record; a standalone evbuffer is freed with it (a view's goes with its bufferevent).
void DropBufRec(BufRec* r) {
  if (!r) return;
  if (!r->owner && r->buf) evbuffer_free(r->buf);
  Buffered()->bufs.Remove(r);
  delete r;
}

static BufRec* ArgBuf(const Napi::CallbackInfo& info, size_t i) {
  double h;
  if (!ArgHandleNumber(info, i, "evbuffer handle", &h)) return nullptr;
  BufRec* r = Buffered()->bufs.Find(h);
  if (!r) {
    ThrowError(info.Env(), "ERR_INVALID_HANDLE", "not a live evbuffer handle (freed, or its bufferevent was freed)");
    return nullptr;
  }
  if (r->owner && !BaseUsable(info.Env(), r->owner->base)) return nullptr;
  return r;
}

static bool ArgLen(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* out) {
  int64_t n;
  if (!ArgInt(info, i, name, 0, int64_t{1} << 53, &n)) return false;
  *out = static_cast<size_t>(n);
  return true;
}

static bool ArgU8(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data, size_t* len) {
  napi_typedarray_type type;
  void* p;
  if (napi_get_typedarray_info(info.Env(), info[i], &type, len, &p, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    bool pending = false;
    napi_is_exception_pending(info.Env(), &pending);
    if (!pending) ThrowType(info.Env(), "ERR_INVALID_ARG_TYPE", std::string(name) + " must be a Uint8Array or Buffer");
    return false;
  }
  *data = static_cast<uint8_t*>(p);
  return true;
}

static Napi::Value Frozen(napi_env env, const char* op) {
  ThrowError(env, "ERR_EVBUFFER_FROZEN",
             std::string(op) + " is not allowed here: a bufferevent's input takes no appends and its output no drains");
  return Napi::Value();
}

static Napi::Value EvbufNew(const Napi::CallbackInfo& info) {
  struct evbuffer* b = evbuffer_new();
  if (!b) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "evbuffer_new failed");
    return Napi::Value();
  }
  BufRec* r = NewBufRec(b, nullptr);
  return Napi::Number::New(info.Env(), HandleOf(r->generation, r->index));
}

static Napi::Value EvbufFree(const Napi::CallbackInfo& info) {
  BufRec* r = ArgBuf(info, 0);
  if (!r) return Napi::Value();
  if (r->owner) {
    ThrowError(info.Env(), "ERR_INVALID_ARG_VALUE", "a bufferevent's input or output is freed with the bufferevent");
    return Napi::Value();
  }
  DropBufRec(r);
  return info.Env().Undefined();
}

static Napi::Value EvbufLength(const Napi::CallbackInfo& info) {
  BufRec* r = ArgBuf(info, 0);
  if (!r) return Napi::Value();
  return Napi::Number::New(info.Env(), static_cast<double>(evbuffer_get_length(r->buf)));
}

static Napi::Value EvbufAdd(const Napi::CallbackInfo& info, bool prepend) {
  BufRec* r = ArgBuf(info, 0);
  if (!r) return Napi::Value();
  std::string holder;
  const uint8_t* p;
  size_t n;
  if (!ArgBytesOrString(info, 1, "data", &holder, &p, &n)) return Napi::Value();
  int rc = prepend ? evbuffer_prepend(r->buf, p, n) : evbuffer_add(r->buf, p, n);
  if (rc != 0) return Frozen(info.Env(), prepend ? "prepend" : "add");
  return Napi::Number::New(info.Env(), static_cast<double>(evbuffer_get_length(r->buf)));
}
static Napi::Value EvbufAppend(const Napi::CallbackInfo& info) { return EvbufAdd(info, false); }
static Napi::Value EvbufPrepend(const Napi::CallbackInfo& info) { return EvbufAdd(info, true); }

// addBuffer(dst, src): moves every chain of src to the end of dst (O(1), src ends empty).
static Napi::Value EvbufAddBuffer(const Napi::CallbackInfo& info) {
  BufRec* dst = ArgBuf(info, 0);
  if (!dst) return Napi::Value();
  BufRec* src = ArgBuf(info, 1);
  if (!src) return Napi::Value();
  if (dst == src) {
    ThrowError(info.Env(), "ERR_INVALID_ARG_VALUE", "cannot move an evbuffer into itself");
    return Napi::Value();
  }
  if (evbuffer_add_buffer(dst->buf, src->buf) != 0) return Frozen(info.Env(), "addBuffer");
  return Napi::Number::New(info.Env(), static_cast<double>(evbuffer_get_length(dst->buf)));
}

static Napi::Value EvbufDrain(const Napi::CallbackInfo& info) {
  BufRec* r = ArgBuf(info, 0);
  size_t n;
  if (!r || !ArgLen(info, 1, "n", &n)) return Napi::Value();
  size_t len = evbuffer_get_length(r->buf);
  if (n > len) n = len;
  if (evbuffer_drain(r->buf, n) != 0) return Frozen(info.Env(), "drain");
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// remove(n) / copyout(n) / peek(n, from): a new Buffer of min(n, available) bytes.
static Napi::Value CopyOut(const Napi::CallbackInfo& info, bool drain, bool withOffset) {
  BufRec* r = ArgBuf(info, 0);
  size_t n, from = 0;
  if (!r || !ArgLen(info, 1, "n", &n)) return Napi::Value();
  if (withOffset && info.Length() > 2 && !info[2].IsUndefined() && !ArgLen(info, 2, "from", &from)) return Napi::Value();
  size_t len = evbuffer_get_length(r->buf);
  if (from > len) from = len;
  if (n > len - from) n = len - from;
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), n);
  if (n == 0) return out;
  ev_ssize_t got;
  if (from > 0) {
    struct evbuffer_ptr ptr;
    if (evbuffer_ptr_set(r->buf, &ptr, from, EVBUFFER_PTR_SET) != 0) {
      ThrowError(info.Env(), "ERR_LIBEVENT", "evbuffer_ptr_set failed");
      return Napi::Value();
    }
    got = evbuffer_copyout_from(r->buf, &ptr, out.Data(), n);
  } else {
    got = drain ? evbuffer_remove(r->buf, out.Data(), n) : evbuffer_copyout(r->buf, out.Data(), n);
  }
  if (got < 0) return Frozen(info.Env(), "remove");
  return out;
}
static Napi::Value EvbufRemove(const Napi::CallbackInfo& info) { return CopyOut(info, true, false); }
static Napi::Value EvbufCopyout(const Napi::CallbackInfo& info) { return CopyOut(info, false, true); }

// removeInto(u8) / copyoutInto(u8): fills a caller-owned array, returns the byte count.
static Napi::Value IntoArray(const Napi::CallbackInfo& info, bool drain) {
  BufRec* r = ArgBuf(info, 0);
  uint8_t* p;
  size_t n;
  if (!r || !ArgU8(info, 1, "target", &p, &n)) return Napi::Value();
  if (n == 0) return Napi::Number::New(info.Env(), 0);
  ev_ssize_t got = drain ? evbuffer_remove(r->buf, p, n) : evbuffer_copyout(r->buf, p, n);
  if (got < 0) return Frozen(info.Env(), "removeInto");
  return Napi::Number::New(info.Env(), static_cast<double>(got));
}
static Napi::Value EvbufRemoveInto(const Napi::CallbackInfo& info) { return IntoArray(info, true); }
static Napi::Value EvbufCopyoutInto(const Napi::CallbackInfo& info) { return IntoArray(info, false); }

// pullup(n): makes the first n bytes one contiguous chain (libevent's evbuffer_pullup), returns
// a copy of them, or null when fewer than n bytes are stored. n omitted: everything.
static Napi::Value EvbufPullup(const Napi::CallbackInfo& info) {
  BufRec* r = ArgBuf(info, 0);
  if (!r) return Napi::Value();
  size_t len = evbuffer_get_length(r->buf), n = len;
  if (info.Length() > 1 && !info[1].IsUndefined() && !ArgLen(info, 1, "n", &n)) return Napi::Value();
  if (n > len) return info.Env().Null();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), n);
  if (n == 0) return out;
  unsigned char* p = evbuffer_pullup(r->buf, static_cast<ev_ssize_t>(n));
  if (!p) {
    ThrowError(info.Env(), "ERR_LIBEVENT", "evbuffer_pullup failed");
    return Napi::Value();
  }
  memcpy(out.Data(), p, n);
  return out;
}

// readln(style): one line without its end-of-line as a UTF-8 string, or null if none is complete.
static Napi::Value EvbufReadln(const Napi::CallbackInfo& info) {
  BufRec* r = ArgBuf(info, 0);
  int64_t style;
  if (!r || !ArgInt(info, 1, "eol style", EVBUFFER_EOL_ANY, EVBUFFER_EOL_NUL, &style)) return Napi::Value();
  size_t n = 0;
  char* line = evbuffer_readln(r->buf, &n, static_cast<enum evbuffer_eol_style>(style));
  if (!line) return info.Env().Null();
  Napi::Value s = Napi::String::New(info.Env(), line, n);
  free(line);  // libevent allocates with malloc (no event_set_mem_functions in this addon)
  return s;
}

// search(bytes, from): offset of the first match at or after `from`, or -1.
static Napi::Value EvbufSearch(const Napi::CallbackInfo& info) {
  BufRec* r = ArgBuf(info, 0);
  if (!r) return Napi::Value();
  std::string holder;
  const uint8_t* p;
  size_t n, from = 0;
  if (!ArgBytesOrString(info, 1, "what", &holder, &p, &n)) return Napi::Value();
  if (info.Length() > 2 && !info[2].IsUndefined() && !ArgLen(info, 2, "from", &from)) return Napi::Value();
  size_t len = evbuffer_get_length(r->buf);
  if (from > len || n == 0) return Napi::Number::New(info.Env(), n == 0 && from <= len ? static_cast<double>(from) : -1);
  struct evbuffer_ptr start;
  if (evbuffer_ptr_set(r->buf, &start, from, EVBUFFER_PTR_SET) != 0) return Napi::Number::New(info.Env(), -1);
  struct evbuffer_ptr at = evbuffer_search(r->buf, reinterpret_cast<const char*>(p), n, &start);
  return Napi::Number::New(info.Env(), static_cast<double>(at.pos));
}

void InitEvbuffer(Napi::Env env, Napi::Object exports) {
  exports.Set("evbufNew", Napi::Function::New(env, EvbufNew));
  exports.Set("evbufFree", Napi::Function::New(env, EvbufFree));
  exports.Set("evbufLength", Napi::Function::New(env, EvbufLength));
  exports.Set("evbufAdd", Napi::Function::New(env, EvbufAppend));
  exports.Set("evbufPrepend", Napi::Function::New(env, EvbufPrepend));
  exports.Set("evbufAddBuffer", Napi::Function::New(env, EvbufAddBuffer));
  exports.Set("evbufDrain", Napi::Function::New(env, EvbufDrain));
  exports.Set("evbufRemove", Napi::Function::New(env, EvbufRemove));
  exports.Set("evbufCopyout", Napi::Function::New(env, EvbufCopyout));
  exports.Set("evbufRemoveInto", Napi::Function::New(env, EvbufRemoveInto));
  exports.Set("evbufCopyoutInto", Napi::Function::New(env, EvbufCopyoutInto));
  exports.Set("evbufPullup", Napi::Function::New(env, EvbufPullup));
  exports.Set("evbufReadln", Napi::Function::New(env, EvbufReadln));
  exports.Set("evbufSearch", Napi::Function::New(env, EvbufSearch));
}

}  // namespace nle
