// Module entry: one AddonData per Node environment (main thread or worker), checks that the
// libevent we were built against matches the one loaded, and frees everything when the
// environment ends.
#include "common.h"

namespace nle {

static thread_local AddonData* currentData = nullptr;
AddonData* CurrentData() { return currentData; }

static void Cleanup(void* arg) {
  AddonData* d = static_cast<AddonData*>(arg);
  d->tearingDown = true;
  for (BaseRec* b : d->bases)
    if (b) FreeBaseNow(b);  // event structs, base, and the run handles
  for (EventRec* r : d->events) delete r;
  for (BaseRec* b : d->bases) delete b;
  d->events.clear();
  d->bases.clear();
  if (d->dispatcher) napi_delete_reference(d->env, d->dispatcher);
  d->dispatcher = nullptr;
  if (currentData == d) currentData = nullptr;
  delete d;
}

// setDispatcher(fn): the JS function every event callback goes through.
static Napi::Value SetDispatcher(const Napi::CallbackInfo& info) {
  AddonData* d = CurrentData();
  if (!info[0].IsFunction()) {
    ThrowType(info.Env(), "ERR_INVALID_ARG_TYPE", "dispatcher must be a function");
    return Napi::Value();
  }
  if (d->dispatcher) napi_delete_reference(d->env, d->dispatcher);
  napi_create_reference(d->env, info[0], 1, &d->dispatcher);
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // The in-place rewrite and the run mode read struct event fields directly: refuse to load
  // against a libevent whose layout differs from the headers we were compiled with.
  if (event_get_struct_event_size() != sizeof(struct event) || (event_get_version_number() >> 16) != 0x0201) {
    ThrowError(env, "ERR_LIBEVENT_MISMATCH",
               std::string("node-libevent was built for libevent 2.1 but loaded ") + event_get_version() +
                   "; rebuild the addon (npm rebuild node-libevent)");
    return exports;
  }
  InstallLibeventLogging();
  AddonData* d = new AddonData();
  d->env = env;
  currentData = d;
  napi_add_env_cleanup_hook(env, Cleanup, d);

  exports.Set("setDispatcher", Napi::Function::New(env, SetDispatcher));
  InitBase(env, exports);
  InitEvent(env, exports);
  InitLoop(env, exports);
  InitRewrite(env, exports);
  InitStrategies(env, exports);
  InitIo(env, exports);
  InitBuffered(env, exports);
  return exports;
}

}  // namespace nle

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return nle::Init(env, exports); }
NODE_API_MODULE(node_libevent, InitModule)
