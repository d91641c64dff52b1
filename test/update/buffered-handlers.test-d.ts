// A version written in TypeScript names its bufferevent and listener callbacks with
// ctx.handlers() and hands them to the buffered API without casts; wrong shapes do not compile.
import { expectTypeOf, test } from 'vitest';

import { BEV, type BufferEvent, type Listener, type SystemError } from '../../lib/index.js';
import { defineVersion, type Handler } from '../../lib/update/index.js';

test('ctx.handlers() takes bufferevent, listener and event callbacks, keeping their types', () => {
  defineVersion({
    version: 'typed',
    main(ctx) {
      const h = ctx.handlers({
        onRead(bev: BufferEvent) {
          bev.writeBuffer(bev.input);
        },
        onDrained(bev: BufferEvent) {
          bev.enable(ctx.lib.EV.READ);
        },
        onEvent(bev: BufferEvent, what: number, err: SystemError | undefined) {
          if (what & (BEV.EOF | BEV.ERROR) || err) bev.free();
        },
        onAccept(bev: BufferEvent, listener: Listener) {
          expectTypeOf(listener.port).toEqualTypeOf<number>();
          bev.setCallbacks({ read: h.onRead, write: h.onDrained, event: h.onEvent });
        },
        onRawAccept(fd: number, listener: Listener) {
          void fd;
          void listener;
        },
        onAcceptError(err: SystemError, listener: Listener) {
          void err.code;
          listener.disable();
        },
        onTick(fd: number, what: number) {
          void (fd + what);
        },
      });
      expectTypeOf(h.onRead).toEqualTypeOf<(bev: BufferEvent) => void>();
      expectTypeOf(h.onEvent).parameter(2).toEqualTypeOf<SystemError | undefined>();
      const listener = ctx.base.listen({ port: 0, error: h.onAcceptError }, h.onAccept);
      listener.onAccept = h.onAccept;
      listener.onError = h.onAcceptError;
      ctx.base.listen({ port: 0, raw: true }, h.onRawAccept);
      ctx.base.connect('127.0.0.1', listener.port, { read: h.onRead, event: h.onEvent });
      ctx.base.timer(h.onTick).add(10);
    },
  });
});

test('handlers that fit no callback are refused', () => {
  defineVersion({
    version: 'bad',
    main(ctx) {
      // @ts-expect-error: a string parameter fits no event, bufferevent or listener callback
      ctx.handlers({ onWhat: (s: string) => void s });
      // @ts-expect-error: not a function
      ctx.handlers({ notAFunction: 42 });
      const h = ctx.handlers({ onRead: (bev: BufferEvent) => void bev });
      // @ts-expect-error: a read callback is no accept callback of a raw listener
      ctx.base.listen({ port: 0, raw: true }, h.onRead);
    },
  });
  expectTypeOf<(bev: BufferEvent) => void>().toMatchTypeOf<Handler>();
});
