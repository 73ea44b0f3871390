package dev.trackway.client;

import java.util.concurrent.CountDownLatch;

/**
 * Queued by flush() behind what was logged before it; done once every batch built before it has
 * been acknowledged or refused.
 */
final class FlushMarker {
  final CountDownLatch done = new CountDownLatch(1);

  /** The serial of the last batch built before this marker. */
  long serial;
}
