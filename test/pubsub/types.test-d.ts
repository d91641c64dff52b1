import { describe, expectTypeOf, it } from 'vitest';
import { defineMessage, PubsubBuilder, type Hook, type MessageDef, type PayloadOf, type Publisher } from '../../lib/pubsub/index.js';

interface OrconnState {
  gid: number;
  state: number;
}

const orconnState = defineMessage<OrconnState>('orconn_state', 'orconn_state');
const memoryLow = defineMessage<number>('memory_low', 'int');

describe('pubsub payload types', () => {
  it('ties publishers to the payload type of their message', () => {
    const con = new PubsubBuilder().connector('or');
    const pub = con.addPub('orconn', orconnState);
    expectTypeOf(pub).toEqualTypeOf<Publisher<OrconnState>>();
    expectTypeOf(pub.publish).parameter(0).toEqualTypeOf<OrconnState>();
    pub.publish({ gid: 1, state: 2 });
    // @ts-expect-error a number is not an OrconnState
    pub.publish(42);
    // @ts-expect-error a missing field is rejected
    pub.publish({ gid: 1 });
    // @ts-expect-error an unknown field is rejected (fresh object literal)
    pub.publish({ gid: 1, state: 2, extra: true });

    const intPub = con.addPub('mem', memoryLow);
    intPub.publish(3);
    // @ts-expect-error a string is not a number
    intPub.publish('3');
  });

  it('ties hooks to the payload type of their message', () => {
    const con = new PubsubBuilder().connector('btrack');
    con.addSub('orconn', orconnState, (p) => {
      expectTypeOf(p).toEqualTypeOf<Readonly<OrconnState>>();
      // @ts-expect-error hooks get a read-only payload
      p.gid = 3;
    });
    // @ts-expect-error a hook for numbers cannot subscribe to an OrconnState message
    con.addSub('orconn', orconnState, (n: number) => n);
    // @ts-expect-error a hook of the wrong message type is rejected
    con.addSub('mem', memoryLow, ((_p: OrconnState) => {}) as Hook<OrconnState>);
    con.addSub('mem', memoryLow, (n) => expectTypeOf(n).toEqualTypeOf<number>());
  });

  it('keeps message declarations invariant in their payload type', () => {
    expectTypeOf<PayloadOf<typeof orconnState>>().toEqualTypeOf<OrconnState>();
    expectTypeOf<MessageDef<number>>().not.toMatchTypeOf<MessageDef<string>>();
    expectTypeOf<MessageDef<'a'>>().not.toMatchTypeOf<MessageDef<string>>();
    expectTypeOf<Publisher<number>>().not.toMatchTypeOf<Publisher<string>>();
  });
});
