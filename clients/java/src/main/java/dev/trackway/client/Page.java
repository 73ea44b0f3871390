package dev.trackway.client;

import java.util.List;

/**
 * One page of a list or search: its items, and the token of the next page, empty on the last. Pass
 * the token to {@link Query#pageToken(String)} with otherwise the same query.
 */
public record Page<T>(List<T> items, String nextPageToken) {
  public Page {
    items = List.copyOf(items);
  }

  /** Whether another page follows. */
  public boolean hasNext() {
    return !nextPageToken.isEmpty();
  }
}
