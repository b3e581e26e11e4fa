/**
 * Intrusive binary min-heap keyed by deadline. One engine timer is armed for the
 * earliest entry, so thousands of connections cost one setTimeout. Pure: no I/O.
 */

export interface HeapItem {
  /** Absolute deadline (any monotonic unit). */
  deadline: number;
  /** Position in the heap, -1 when absent. Owned by the heap. */
  heapIndex: number;
}

export class TimerHeap<T extends HeapItem> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  has(item: T): boolean {
    return item.heapIndex >= 0 && this.items[item.heapIndex] === item;
  }

  /** Insert, or move an item already present, to `deadline`. */
  set(item: T, deadline: number): void {
    if (this.has(item)) {
      const old = item.deadline;
      item.deadline = deadline;
      if (deadline < old) this.up(item.heapIndex);
      else if (deadline > old) this.down(item.heapIndex);
      return;
    }
    item.deadline = deadline;
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  remove(item: T): void {
    if (!this.has(item)) return;
    const i = item.heapIndex;
    const last = this.items.pop()!;
    item.heapIndex = -1;
    if (i < this.items.length) {
      this.items[i] = last;
      last.heapIndex = i;
      this.up(i);
      this.down(last.heapIndex);
    }
  }

  /** Remove and return the earliest item if its deadline is <= now. */
  popDue(now: number): T | undefined {
    const top = this.items[0];
    if (top === undefined || top.deadline > now) return undefined;
    this.remove(top);
    return top;
  }

  private up(i: number): void {
    const items = this.items;
    const item = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (parent.deadline <= item.deadline) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && items[r]!.deadline < items[l]!.deadline) c = r;
      const child = items[c]!;
      if (child.deadline >= item.deadline) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
