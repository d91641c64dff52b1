// Module entry: one AddonData per Node environment (main thread or worker), checks that the
// libevent we were built against matches the one loaded, and frees everything when the
// environment ends.
#include <mutex>

#include "common.h"

namespace nle {

static thread_local AddonData* currentData = nullptr;
int foreignEpollBaseline = -1;
AddonData* CurrentData() { return currentData; }

Instance* InstanceOf(napi_env env) {
  for (Instance* i : currentData->instances)
    if (i->env == env) return i;
  return currentData->instances.front();  // not reached: every call comes through a loaded copy
}

// The environment is ending (this runs once per loaded copy): free what this copy made while
// its napi_env still exists, and the shared tables with the last copy.
static void Cleanup(void* arg) {
  Instance* inst = static_cast<Instance*>(arg);
  AddonData* d = currentData;
  d->tearingDown = true;
  for (BaseRec*& b : d->bases) {
    if (!b || b->inst != inst) continue;
    FreeBaseNow(b);  // event structs, base, and the run handles
    for (EventRec* r : b->events) {
      d->events[r->index] = nullptr;
      d->liveEvents--;
      delete r;
    }
    delete b;
    b = nullptr;
    d->liveBases--;
  }
  if (inst->dispatcher) napi_delete_reference(inst->env, inst->dispatcher);
  if (inst->batchDispatcher) napi_delete_reference(inst->env, inst->batchDispatcher);
  if (inst->probe) napi_delete_reference(inst->env, inst->probe);
  if (inst->bufferedDispatcher) napi_delete_reference(inst->env, inst->bufferedDispatcher);
  auto& all = d->instances;
  for (size_t k = 0; k < all.size(); k++)
    if (all[k] == inst) all.erase(all.begin() + static_cast<ptrdiff_t>(k));
  delete inst;
  if (!all.empty()) return;
  currentData = nullptr;
  delete d;
}

// setDispatcher(fn): the JS function every event callback of this copy's bases goes through.
static Napi::Value SetDispatcher(const Napi::CallbackInfo& info) {
  Instance* inst = InstanceOf(info.Env());
  if (!info[0].IsFunction()) {
    ThrowType(info.Env(), "ERR_INVALID_ARG_TYPE", "dispatcher must be a function");
    return Napi::Value();
  }
  if (inst->dispatcher) napi_delete_reference(inst->env, inst->dispatcher);
  napi_create_reference(inst->env, info[0], 1, &inst->dispatcher);
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
  InstallChainCache();
  if (!currentData) currentData = new AddonData();
  uv_loop_t* loop = nullptr;
  static std::once_flag baselineOnce;
  if (napi_get_uv_event_loop(env, &loop) == napi_ok && loop == uv_default_loop())
    std::call_once(baselineOnce, [] { foreignEpollBaseline = ForeignEpollFds(); });
  Instance* inst = new Instance();
  inst->env = env;
  currentData->instances.push_back(inst);
  napi_add_env_cleanup_hook(env, Cleanup, inst);

  exports.Set("setDispatcher", Napi::Function::New(env, SetDispatcher));
  InitBase(env, exports);
  InitEvent(env, exports);
  InitLoop(env, exports);
  InitBatch(env, exports);
  InitRewrite(env, exports);
  InitStrategies(env, exports);
  InitIo(env, exports);
  InitBuffered(env, exports);
  InitPeerCred(env, exports);
  return exports;
}

}  // namespace nle

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return nle::Init(env, exports); }
NODE_API_MODULE(node_libevent, InitModule)
