// Two Tor-style subsystems talking through publish-subscribe with prompt delivery on a
// running libevent base.
//
//   sensor  --temperature-->  alarm        (channel "readings")
//   sensor  <--alarm_raised--  alarm       (channel "alerts")
//
// A libevent timer makes the sensor publish a reading every 20 ms. Prompt delivery means the
// channel's libevent event is activated when its queue stops being empty, and the messages are
// delivered from the loop, not on the publisher's stack. Run: node examples/two-subsystems.mjs
import { EventBase } from 'node-libevent';
import { Mainloop } from 'node-libevent/mainloop';
import { PubsubBuilder, defineMessage } from 'node-libevent/pubsub';
import { SubsystemManager, defineSubsystem } from 'node-libevent/subsys';

const Temperature = defineMessage('temperature', 'celsius');
const AlarmRaised = defineMessage('alarm_raised', 'alarm');

const base = new EventBase();
let readings = 0;
let publishTemperature;

const sensor = defineSubsystem({
  name: 'sensor',
  level: 10,
  addPubsub(con) {
    publishTemperature = con.addPub('readings', Temperature);
    con.addSub('alerts', AlarmRaised, (alarm) => {
      console.log(`sensor: alarm at reading ${alarm.reading} (${alarm.celsius} C), cooling down`);
    });
  },
});

const alarm = defineSubsystem({
  name: 'alarm',
  level: 20,
  addPubsub(con) {
    const raise = con.addPub('alerts', AlarmRaised);
    con.addSub('readings', Temperature, (celsius) => {
      console.log(`alarm: reading ${readings}: ${celsius} C`);
      if (celsius > 24) raise.publish({ reading: readings, celsius });
    });
  },
});

const manager = new SubsystemManager([sensor, alarm]);
manager.init();
const builder = new PubsubBuilder();
manager.addPubsub(builder);
const mainloop = new Mainloop(base).connect(builder);
mainloop.setDeliveryPolicy('readings', 'prompt');
mainloop.setDeliveryPolicy('alerts', 'prompt');

const tick = base.timer(
  () => {
    readings++;
    publishTemperature.publish(20 + ((readings * 7) % 11));
    if (readings === 8) tick.del();
  },
  { persist: true },
);
tick.add(20);

// Cooperative run: Node's own loop keeps working meanwhile; it resolves 1 when no events are left.
const result = await base.run();
console.log(`done after ${readings} readings (run() returned ${result})`);
mainloop.disconnect();
manager.shutdown();
base.free();
