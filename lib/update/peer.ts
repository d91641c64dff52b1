// SO_PEERCRED through the addon (native/peercred.cc): who is at the other end of a Unix socket.
// Internal to the update layer (the CLI's check of the control socket); the loop layer's
// public face does not carry it, so this reaches for the raw binding directly.
import { binding } from '../loop/native.js';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** The pid, uid and gid of the process at the other end of the connected Unix socket `fd`. */
export function peerCredentials(fd: number): PeerCredentials {
  return (binding as unknown as { peerCredentials(fd: number): PeerCredentials }).peerCredentials(fd);
}
