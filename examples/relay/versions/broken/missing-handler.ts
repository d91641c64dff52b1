// A failed update to inject: a version whose link module lost the exit streams' read
// handler. Live exit-stream events run it, so the host must refuse the update in rewire.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders as previous } from '../v12/modules.js';

export const version = 'broken-handler';
const modules = load({
  ...previous,
  relay: () => {
    const real = previous.relay();
    return {
      create(R: Parameters<typeof real.create>[0]) {
        const api = real.create(R);
        const { exitRead: _lost, ...handlers } = api.handlers;
        return { ...api, handlers: handlers as typeof api.handlers };
      },
    };
  },
});
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
