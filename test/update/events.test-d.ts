// The UpdateHost's events are typed: listeners get the report, the point and the log line.
import { expectTypeOf, test } from 'vitest';

import { EventBase } from '../../lib/index.js';
import { UpdateHost, type UpdateReport } from '../../lib/update/index.js';

test('UpdateHost events carry their types', () => {
  const host = new UpdateHost({ base: new EventBase(), versionsDir: '.' });
  host.on('update', (r) => expectTypeOf(r).toEqualTypeOf<UpdateReport>());
  host.on('point', (name, count) => {
    expectTypeOf(name).toEqualTypeOf<string>();
    expectTypeOf(count).toEqualTypeOf<number>();
  });
  host.on('log', (line) => expectTypeOf(line).toEqualTypeOf<string>());
  // @ts-expect-error: no such event
  host.on('updated', () => {});
  expectTypeOf(host).toMatchTypeOf<Disposable & AsyncDisposable>();
});
