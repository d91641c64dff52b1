// A failed update to inject: v-next whose circuit transform throws. The host must refuse it
// in the migrate phase and leave the running version as it was.
import type { VersionContext } from 'node-libevent/update';
import { load } from '../load.js';
import { loaders as previous } from '../v12/modules.js';
import { evolve } from '../v0/state.js';
import { items } from '../v10/state.js';

export const version = 'broken-transform';
const modules = load({
  ...previous,
  state: () => ({
    items: evolve(items, { circuits: { transform: () => { throw new Error('injected: this transform always throws'); } } }),
    evolve,
    changedIn: version,
  }),
});
export function main(ctx: VersionContext): void {
  modules.main.run(ctx, modules, version);
}
