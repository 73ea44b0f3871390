package dev.trackway.client;

import dev.trackway.tracking.v1.ViewType;
import java.util.List;

/**
 * The filter, order and paging of a search, immutable: each method returns a changed copy.
 *
 * <pre>{@code
 * Query q = Query.filter("metrics.loss < 0.5").orderBy("metrics.loss ASC").pageSize(100);
 * }</pre>
 *
 * <p>The filter language and the order clauses are those of the RPC searched (see the protos).
 * {@code viewType} applies to experiments and runs only; a page size of 0 takes the server's
 * default.
 */
public record Query(
    String filter, List<String> orderBy, int pageSize, String pageToken, ViewType viewType) {
  public Query {
    filter = filter == null ? "" : filter;
    orderBy = List.copyOf(orderBy);
    pageToken = pageToken == null ? "" : pageToken;
    viewType = viewType == null ? ViewType.VIEW_TYPE_UNSPECIFIED : viewType;
  }

  /** Everything, in the server's default order. */
  public static Query all() {
    return new Query("", List.of(), 0, "", ViewType.VIEW_TYPE_UNSPECIFIED);
  }

  /** A query with this filter. */
  public static Query filter(String filter) {
    return all().withFilter(filter);
  }

  public Query withFilter(String newFilter) {
    return new Query(newFilter, orderBy, pageSize, pageToken, viewType);
  }

  /** Up to three clauses such as {@code "metrics.loss ASC"}, replacing any given before. */
  public Query orderBy(String... clauses) {
    return new Query(filter, List.of(clauses), pageSize, pageToken, viewType);
  }

  public Query pageSize(int size) {
    return new Query(filter, orderBy, size, pageToken, viewType);
  }

  /** The {@link Page#nextPageToken()} of the previous page. */
  public Query pageToken(String token) {
    return new Query(filter, orderBy, pageSize, token, viewType);
  }

  /** Which lifecycle stages to return; the default is active entities only. */
  public Query viewType(ViewType view) {
    return new Query(filter, orderBy, pageSize, pageToken, view);
  }
}
