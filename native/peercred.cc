// The credentials of the process at the other end of a connected Unix-domain socket
// (SO_PEERCRED), which Node does not expose: the update CLI checks that the socket it talks
// to belongs to the process it was asked to update before it sends anything.
#include <sys/socket.h>

#include <cerrno>

#include "common.h"

namespace nle {

// peerCredentials(fd) -> { pid, uid, gid } of the peer (for a listening socket: its own).
static Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, "fd", 0, INT32_MAX, &fd)) return Napi::Value();
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    ThrowErrno(env, errno, "getsockopt(SO_PEERCRED)");
    return Napi::Value();
  }
  if (len != sizeof cred) {
    ThrowError(env, "ERR_PEER_CREDENTIALS", "SO_PEERCRED returned a short record");
    return Napi::Value();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

void InitPeerCred(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials));
}

}  // namespace nle
