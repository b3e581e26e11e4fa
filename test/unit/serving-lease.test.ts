/**
 * The serving lease's local deadline (fencing, docs/protocol.md section 7), with
 * a fake clock and a fake KV store: the deadline runs from when a renewal was
 * *sent*, it passes whether or not NATS answers, and a paused process finds
 * itself expired before it does anything else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type LeaseStore, ServingLease } from '../../src/transport/nats/ha.js';

const TTL = 1_500;

/** A KV key with compare-and-set; `delay` runs (advancing the fake clock) before each answer. */
class FakeStore implements LeaseStore {
  value: { revision: number; value: string } | null = null;
  unreachable = false;
  delay: () => void = () => {};
  private rev = 0;
  private check(): void {
    this.delay();
    if (this.unreachable) throw new Error('NATS unreachable');
  }
  async create(_k: string, v: string): Promise<number> {
    this.check();
    if (this.value) throw new Error('exists');
    this.value = { revision: ++this.rev, value: v };
    return this.rev;
  }
  async update(_k: string, v: string, revision: number): Promise<number> {
    this.check();
    if (!this.value || this.value.revision !== revision) throw new Error('wrong last sequence');
    this.value = { revision: ++this.rev, value: v };
    return this.rev;
  }
  async get(): Promise<{ revision: number; value: string } | null> {
    this.check();
    return this.value;
  }
  async delete(): Promise<void> {
    this.check();
    this.value = null;
  }
  /** Someone else took the key (after it lapsed). */
  takenByOther(): void {
    this.value = { revision: ++this.rev, value: JSON.stringify({ serverId: 'other', instance: 'x', at: 0 }) };
  }
}

function setup() {
  let now = 10_000;
  const store = new FakeStore();
  const lease = new ServingLease(store, 'gate-a', TTL, () => now);
  return { store, lease, advance: (ms: number) => (now += ms), at: () => now };
}

describe('serving lease deadline', () => {
  it('is valid until the send time of the acquiring create plus the TTL', async () => {
    const { store, lease, advance } = setup();
    store.delay = () => advance(400); // the create takes 400 ms to be answered
    assert.equal(await lease.tryAcquire(), true);
    store.delay = () => {};
    assert.equal(lease.valid(), true);
    assert.equal(lease.remainingMs(), TTL - 400, 'counted from when the create was sent');
    advance(TTL - 400 - 1);
    assert.equal(lease.valid(), true);
    advance(1);
    assert.equal(lease.valid(), false, 'expired exactly at sent + TTL');
  });

  it('a renewal moves the deadline to its own send time plus the TTL', async () => {
    const { store, lease, advance } = setup();
    await lease.tryAcquire();
    advance(1_000);
    store.delay = () => advance(300);
    assert.equal(await lease.renew(), 'renewed');
    assert.equal(lease.remainingMs(), TTL - 300);
  });

  it('NATS unreachable: renewals do not extend it, and it passes on time', async () => {
    const { store, lease, advance } = setup();
    await lease.tryAcquire();
    store.unreachable = true;
    advance(1_000);
    assert.equal(await lease.renew(), 'unknown');
    assert.equal(lease.valid(), true);
    advance(TTL - 1_000);
    assert.equal(await lease.renew(), 'unknown');
    assert.equal(lease.valid(), false, 'never serves past the deadline without a renewal');
  });

  it('a paused process is expired the moment it runs again, before any renewal', async () => {
    const { lease, advance } = setup();
    await lease.tryAcquire();
    advance(9_000); // SIGSTOP for 9 s: the monotonic clock kept running
    assert.equal(lease.valid(), false);
  });

  it('lost to another holder: invalid at once', async () => {
    const { store, lease } = setup();
    await lease.tryAcquire();
    store.takenByOther();
    assert.equal(await lease.renew(), 'lost');
    assert.equal(lease.valid(), false);
  });

  it('a lapsed key is not silently retaken by a renewal (the process may have been paused)', async () => {
    const { store, lease, advance } = setup();
    await lease.tryAcquire();
    advance(TTL + 1);
    store.value = null; // the key lapsed in the store
    assert.equal(await lease.renew(), 'lost');
    assert.equal(lease.valid(), false);
  });

  it('release gives it up locally even when NATS is unreachable', async () => {
    const { store, lease } = setup();
    await lease.tryAcquire();
    store.unreachable = true;
    await lease.release();
    assert.equal(lease.valid(), false);
  });
});
