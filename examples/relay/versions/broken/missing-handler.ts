// A failed update to inject: v12 with the OR links' read callback missing from its handler
// table. Every live link runs that callback, so the host must refuse the update in rewire.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders as previous } from '../v12/modules.js';

export const version = 'broken-handler';
const modules = load({
  ...previous,
  link: () => {
    const real = previous.link();
    return {
      create(R: Parameters<typeof real.create>[0]) {
        const api = real.create(R);
        const { connReadCallback: _lost, ...handlers } = api.handlers as typeof api.handlers & { connReadCallback?: unknown };
        return { ...api, handlers: handlers as typeof api.handlers };
      },
    };
  },
});
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
