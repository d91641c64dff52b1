// Shared helpers for the loop tests: the backends to run every case on.
import { supportedMethods } from '../../lib/index.js';

/** Every backend this libevent offers (epoll, poll, select on Linux). */
export const methods = supportedMethods();

/** Backends where the case applies to fds below 1024 (select's limit). */
export const allMethods = methods;
