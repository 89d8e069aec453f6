/**
 * Which messages of the room on screen are actually in view: one
 * IntersectionObserver on the message rows (`li[data-seq]`), inside the
 * scroller. A row counts once at least half of it is visible (or, for a
 * message taller than the scroller, once it fills half of it). The
 * controller asks for the newest such message when it is time to mark the
 * room read; whether the page is visible and focused is its business.
 */

export interface SeenMessage {
  id: string;
  seq: number;
}

export interface SeenTracker {
  /** After each render: watches the rows just drawn, forgets the ones gone. */
  sync(): void;
  /** The in-view message with the highest seq, if any. */
  newestInView(): SeenMessage | undefined;
  disconnect(): void;
}

export function createSeenTracker(root: HTMLElement, list: HTMLElement, onChange: () => void): SeenTracker {
  const watched = new Set<HTMLElement>();
  const inView = new Set<HTMLElement>();
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const row = entry.target as HTMLElement;
        const half = entry.rootBounds ? entry.rootBounds.height / 2 : Infinity;
        const seen = entry.isIntersecting && (entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= half);
        if (seen) inView.add(row);
        else inView.delete(row);
      }
      onChange();
    },
    { root, threshold: [0, 0.25, 0.5, 0.75, 1] },
  );

  return {
    sync() {
      for (const row of watched) {
        if (row.isConnected) continue;
        observer.unobserve(row);
        watched.delete(row);
        inView.delete(row);
      }
      for (const row of list.querySelectorAll<HTMLElement>("li[data-seq]")) {
        if (watched.has(row)) continue;
        watched.add(row);
        observer.observe(row);
      }
    },
    newestInView() {
      let newest: SeenMessage | undefined;
      for (const row of inView) {
        const seq = Number(row.dataset.seq);
        const id = row.dataset.id;
        if (!row.isConnected || id === undefined || !Number.isFinite(seq)) continue;
        if (!newest || seq > newest.seq) newest = { id, seq };
      }
      return newest;
    },
    disconnect() {
      observer.disconnect();
      watched.clear();
      inView.clear();
    },
  };
}
