package dev.trackway.client;

import com.google.protobuf.FieldMask;
import dev.trackway.tracking.v1.CreateExperimentRequest;
import dev.trackway.tracking.v1.CreateRunRequest;
import dev.trackway.tracking.v1.DatasetInput;
import dev.trackway.tracking.v1.DeleteExperimentRequest;
import dev.trackway.tracking.v1.DeleteExperimentTagRequest;
import dev.trackway.tracking.v1.DeleteRunRequest;
import dev.trackway.tracking.v1.DeleteTagRequest;
import dev.trackway.tracking.v1.Experiment;
import dev.trackway.tracking.v1.ExperimentTag;
import dev.trackway.tracking.v1.GetExperimentByNameRequest;
import dev.trackway.tracking.v1.GetExperimentRequest;
import dev.trackway.tracking.v1.GetMetricHistoryBulkRequest;
import dev.trackway.tracking.v1.GetMetricHistoryRequest;
import dev.trackway.tracking.v1.GetMetricHistoryResponse;
import dev.trackway.tracking.v1.GetRunRequest;
import dev.trackway.tracking.v1.LogBatchRequest;
import dev.trackway.tracking.v1.LogInputsRequest;
import dev.trackway.tracking.v1.LogMetricRequest;
import dev.trackway.tracking.v1.LogParamRequest;
import dev.trackway.tracking.v1.Metric;
import dev.trackway.tracking.v1.MetricColumns;
import dev.trackway.tracking.v1.Param;
import dev.trackway.tracking.v1.PurgeExperimentRequest;
import dev.trackway.tracking.v1.RestoreExperimentRequest;
import dev.trackway.tracking.v1.RestoreRunRequest;
import dev.trackway.tracking.v1.Run;
import dev.trackway.tracking.v1.RunInfo;
import dev.trackway.tracking.v1.RunMetricHistory;
import dev.trackway.tracking.v1.RunStatus;
import dev.trackway.tracking.v1.RunTag;
import dev.trackway.tracking.v1.SearchExperimentsRequest;
import dev.trackway.tracking.v1.SearchExperimentsResponse;
import dev.trackway.tracking.v1.SearchRunsRequest;
import dev.trackway.tracking.v1.SearchRunsResponse;
import dev.trackway.tracking.v1.SetExperimentTagRequest;
import dev.trackway.tracking.v1.SetTagRequest;
import dev.trackway.tracking.v1.UpdateExperimentRequest;
import dev.trackway.tracking.v1.UpdateRunRequest;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The Trackway client: experiments, runs and what they log, plus {@link #artifacts(String)
 * artifacts}, the {@link #registry() model registry} and a background {@link #newMetricLogger()
 * metric logger}, all over one gRPC channel, or over the server's HTTP/JSON API for an {@code
 * http(s)://} target.
 *
 * <pre>{@code
 * try (TrackwayClient client = TrackwayClient.builder().target("grpc://127.0.0.1:50051").build()) {
 *   Experiment exp = client.getOrCreateExperiment("tour");
 *   Run run = client.createRun(exp.getExperimentId(), "first");
 *   client.logParam(run.getInfo().getRunId(), "lr", "0.01");
 *   client.logMetric(run.getInfo().getRunId(), "loss", 0.5, 1);
 *   client.endRun(run.getInfo().getRunId());
 * }
 * }</pre>
 *
 * <p>Entities are the generated protobuf messages ({@code dev.trackway.tracking.v1.Run} and so on).
 * Errors are {@link TrackwayException}s of the class bound to the server's status code. Every write
 * carries a fresh request_id, so the retries after UNAVAILABLE (for up to {@link
 * Builder#retryFor(Duration)}) never apply a write twice. Thread-safe.
 */
public final class TrackwayClient implements AutoCloseable {
  private final Calls calls;
  private final RegistryClient registry;
  private final List<MetricLogger> loggers = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  private TrackwayClient(Calls calls) {
    this.calls = calls;
    this.registry = new RegistryClient(calls);
  }

  /** A builder whose target defaults to TRACKWAY_TRACKING_URI, else grpc://127.0.0.1:50051. */
  public static Builder builder() {
    return new Builder();
  }

  /** The server this client talks to. */
  public Target target() {
    return calls.target;
  }

  // Experiments

  /** Creates an experiment; AlreadyExistsException when the name is taken. */
  public Experiment createExperiment(String name) {
    return createExperiment(name, "", Map.of());
  }

  /** Creates an experiment with an artifact location (empty: the server's choice) and tags. */
  public Experiment createExperiment(
      String name, String artifactLocation, Map<String, String> tags) {
    CreateExperimentRequest.Builder request =
        CreateExperimentRequest.newBuilder()
            .setName(name)
            .setArtifactLocation(artifactLocation)
            .setRequestId(Calls.requestId());
    tags.forEach((k, v) -> request.addTags(ExperimentTag.newBuilder().setKey(k).setValue(v)));
    CreateExperimentRequest built = request.build();
    return calls.call(() -> calls.tracking().createExperiment(built)).getExperiment();
  }

  public Experiment getExperiment(String experimentId) {
    GetExperimentRequest request =
        GetExperimentRequest.newBuilder().setExperimentId(experimentId).build();
    return calls.call(() -> calls.tracking().getExperiment(request)).getExperiment();
  }

  /** The experiment with exactly this name, active or deleted; NotFoundException otherwise. */
  public Experiment getExperimentByName(String name) {
    GetExperimentByNameRequest request =
        GetExperimentByNameRequest.newBuilder().setName(name).build();
    return calls.call(() -> calls.tracking().getExperimentByName(request)).getExperiment();
  }

  /** The experiment with this name, created when there is none (also when another creates it). */
  public Experiment getOrCreateExperiment(String name) {
    try {
      return getExperimentByName(name);
    } catch (NotFoundException missing) {
      try {
        return createExperiment(name);
      } catch (AlreadyExistsException raced) {
        return getExperimentByName(name);
      }
    }
  }

  /** Renames an experiment; AlreadyExistsException when the new name is taken. */
  public Experiment renameExperiment(String experimentId, String newName) {
    UpdateExperimentRequest request =
        UpdateExperimentRequest.newBuilder()
            .setExperimentId(experimentId)
            .setName(newName)
            .setUpdateMask(FieldMask.newBuilder().addPaths("name"))
            .setRequestId(Calls.requestId())
            .build();
    return calls.call(() -> calls.tracking().updateExperiment(request)).getExperiment();
  }

  /** Soft-deletes an experiment and its runs; {@link #restoreExperiment} undoes it. */
  public void deleteExperiment(String experimentId) {
    DeleteExperimentRequest request =
        DeleteExperimentRequest.newBuilder()
            .setExperimentId(experimentId)
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.tracking().deleteExperiment(request));
  }

  public void restoreExperiment(String experimentId) {
    RestoreExperimentRequest request =
        RestoreExperimentRequest.newBuilder()
            .setExperimentId(experimentId)
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.tracking().restoreExperiment(request));
  }

  /**
   * Removes a soft-deleted experiment for good, with its runs, and frees its name. Returns how many
   * runs went with it.
   */
  public long purgeExperiment(String experimentId) {
    PurgeExperimentRequest request =
        PurgeExperimentRequest.newBuilder()
            .setExperimentId(experimentId)
            .setRequestId(Calls.requestId())
            .build();
    return calls.call(() -> calls.tracking().purgeExperiment(request)).getPurgedRuns();
  }

  public void setExperimentTag(String experimentId, String key, String value) {
    SetExperimentTagRequest request =
        SetExperimentTagRequest.newBuilder()
            .setExperimentId(experimentId)
            .setTag(ExperimentTag.newBuilder().setKey(key).setValue(value))
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.tracking().setExperimentTag(request));
  }

  public void deleteExperimentTag(String experimentId, String key) {
    DeleteExperimentTagRequest request =
        DeleteExperimentTagRequest.newBuilder()
            .setExperimentId(experimentId)
            .setKey(key)
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.tracking().deleteExperimentTag(request));
  }

  /** One page of experiments matching the query. */
  public Page<Experiment> searchExperiments(Query query) {
    SearchExperimentsRequest request =
        SearchExperimentsRequest.newBuilder()
            .setFilter(query.filter())
            .addAllOrderBy(query.orderBy())
            .setPageSize(query.pageSize())
            .setPageToken(query.pageToken())
            .setViewType(query.viewType())
            .build();
    SearchExperimentsResponse reply = calls.call(() -> calls.tracking().searchExperiments(request));
    return new Page<>(reply.getExperimentsList(), reply.getNextPageToken());
  }

  /** Every experiment matching the query, following the pages. */
  public List<Experiment> searchAllExperiments(Query query) {
    return allPages(query, this::searchExperiments);
  }

  /** Every active experiment, most recently changed first. */
  public List<Experiment> listExperiments() {
    return searchAllExperiments(Query.all());
  }

  // Runs

  public Run createRun(String experimentId) {
    return createRun(experimentId, "", Map.of());
  }

  public Run createRun(String experimentId, String runName) {
    return createRun(experimentId, runName, Map.of());
  }

  /** Creates a run; an empty name lets the server generate one. */
  public Run createRun(String experimentId, String runName, Map<String, String> tags) {
    CreateRunRequest.Builder request =
        CreateRunRequest.newBuilder().setExperimentId(experimentId).setRunName(runName);
    tags.forEach((k, v) -> request.addTags(RunTag.newBuilder().setKey(k).setValue(v)));
    return createRun(request.build());
  }

  /**
   * Creates a run from a full request (start time, user, parent run, ...); a request_id is added
   * when it has none.
   */
  public Run createRun(CreateRunRequest request) {
    CreateRunRequest built =
        request.getRequestId().isEmpty()
            ? request.toBuilder().setRequestId(Calls.requestId()).build()
            : request;
    return calls.call(() -> calls.tracking().createRun(built)).getRun();
  }

  /** A run with its params, tags, latest metrics and inputs. */
  public Run getRun(String runId) {
    GetRunRequest request = GetRunRequest.newBuilder().setRunId(runId).build();
    return calls.call(() -> calls.tracking().getRun(request)).getRun();
  }

  /** Sets a run's status and end time (epoch ms; 0 leaves it). */
  public RunInfo updateRun(String runId, RunStatus status, long endTime) {
    UpdateRunRequest.Builder request =
        UpdateRunRequest.newBuilder().setRunId(runId).setStatus(status);
    FieldMask.Builder mask = FieldMask.newBuilder().addPaths("status");
    if (endTime != 0) {
      request.setEndTime(endTime);
      mask.addPaths("end_time");
    }
    return updateRun(request.setUpdateMask(mask));
  }

  public RunInfo renameRun(String runId, String runName) {
    return updateRun(
        UpdateRunRequest.newBuilder()
            .setRunId(runId)
            .setRunName(runName)
            .setUpdateMask(FieldMask.newBuilder().addPaths("run_name")));
  }

  /** Ends a run as FINISHED now. */
  public RunInfo endRun(String runId) {
    return endRun(runId, RunStatus.RUN_STATUS_FINISHED);
  }

  /** Ends a run with this status (FINISHED, FAILED or KILLED) now. */
  public RunInfo endRun(String runId, RunStatus status) {
    return updateRun(runId, status, System.currentTimeMillis());
  }

  private RunInfo updateRun(UpdateRunRequest.Builder request) {
    UpdateRunRequest built = request.setRequestId(Calls.requestId()).build();
    return calls.call(() -> calls.tracking().updateRun(built)).getRunInfo();
  }

  /** Soft-deletes a run; {@link #restoreRun} undoes it. */
  public void deleteRun(String runId) {
    DeleteRunRequest request =
        DeleteRunRequest.newBuilder().setRunId(runId).setRequestId(Calls.requestId()).build();
    calls.run(() -> calls.tracking().deleteRun(request));
  }

  public void restoreRun(String runId) {
    RestoreRunRequest request =
        RestoreRunRequest.newBuilder().setRunId(runId).setRequestId(Calls.requestId()).build();
    calls.run(() -> calls.tracking().restoreRun(request));
  }

  /**
   * One page of runs of these experiments (none: all of them) matching the query, whose filter is
   * the SearchRuns language, e.g. {@code metrics.loss < 0.5 AND params.lr = "0.01"}.
   */
  public Page<Run> searchRuns(List<String> experimentIds, Query query) {
    SearchRunsRequest request =
        SearchRunsRequest.newBuilder()
            .addAllExperimentIds(experimentIds)
            .setFilter(query.filter())
            .addAllOrderBy(query.orderBy())
            .setPageSize(query.pageSize())
            .setPageToken(query.pageToken())
            .setViewType(query.viewType())
            .build();
    SearchRunsResponse reply = calls.call(() -> calls.tracking().searchRuns(request));
    return new Page<>(reply.getRunsList(), reply.getNextPageToken());
  }

  /** Every run matching the query, following the pages. */
  public List<Run> searchAllRuns(List<String> experimentIds, Query query) {
    return allPages(query, q -> searchRuns(experimentIds, q));
  }

  // Logging, one call each. For many points use newMetricLogger().

  /** Appends one point to a metric's history, stamped now. */
  public void logMetric(String runId, String key, double value, long step) {
    logMetric(runId, key, value, step, System.currentTimeMillis());
  }

  /** Appends one point with an explicit timestamp in epoch ms. */
  public void logMetric(String runId, String key, double value, long step, long timestamp) {
    LogMetricRequest request =
        LogMetricRequest.newBuilder()
            .setRunId(runId)
            .setMetric(metric(key, value, step, timestamp))
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.tracking().logMetric(request));
  }

  /** Logs a param; params are write-once, so a different value is FailedPreconditionException. */
  public void logParam(String runId, String key, String value) {
    LogParamRequest request =
        LogParamRequest.newBuilder()
            .setRunId(runId)
            .setParam(Param.newBuilder().setKey(key).setValue(value))
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.tracking().logParam(request));
  }

  /** Sets a tag on a run, replacing any value it had. */
  public void setTag(String runId, String key, String value) {
    SetTagRequest request =
        SetTagRequest.newBuilder()
            .setRunId(runId)
            .setTag(RunTag.newBuilder().setKey(key).setValue(value))
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.tracking().setTag(request));
  }

  public void deleteTag(String runId, String key) {
    DeleteTagRequest request =
        DeleteTagRequest.newBuilder()
            .setRunId(runId)
            .setKey(key)
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.tracking().deleteTag(request));
  }

  /**
   * Logs metrics, params and tags in one transaction: all or nothing. At most 1,000 metrics, 100
   * params and 100 tags; {@link #metric} builds a point.
   */
  public void logBatch(
      String runId, List<Metric> metrics, Map<String, String> params, Map<String, String> tags) {
    LogBatchRequest.Builder request =
        LogBatchRequest.newBuilder()
            .setRunId(runId)
            .addAllMetrics(metrics)
            .setRequestId(Calls.requestId());
    params.forEach((k, v) -> request.addParams(Param.newBuilder().setKey(k).setValue(v)));
    tags.forEach((k, v) -> request.addTags(RunTag.newBuilder().setKey(k).setValue(v)));
    LogBatchRequest built = request.build();
    calls.run(() -> calls.tracking().logBatch(built));
  }

  /** Records datasets that a run consumed. */
  public void logInputs(String runId, List<DatasetInput> datasets) {
    LogInputsRequest request =
        LogInputsRequest.newBuilder()
            .setRunId(runId)
            .addAllDatasets(datasets)
            .setRequestId(Calls.requestId())
            .build();
    calls.run(() -> calls.tracking().logInputs(request));
  }

  /** A metric point for {@link #logBatch}. */
  public static Metric metric(String key, double value, long step, long timestamp) {
    return Metric.newBuilder()
        .setKey(key)
        .setValue(value)
        .setStep(step)
        .setTimestamp(timestamp)
        .build();
  }

  // Metric history

  /** A metric's whole history in step order, every page; empty when it was never logged. */
  public List<MetricPoint> getMetricHistory(String runId, String key) {
    List<MetricPoint> points = new ArrayList<>();
    String token = "";
    do {
      Page<MetricPoint> page = getMetricHistoryPage(runId, key, 0, token);
      points.addAll(page.items());
      token = page.nextPageToken();
    } while (!token.isEmpty());
    return points;
  }

  /** One page of a metric's history (page size 0: the server's default of 25,000). */
  public Page<MetricPoint> getMetricHistoryPage(
      String runId, String key, int pageSize, String pageToken) {
    GetMetricHistoryRequest request =
        GetMetricHistoryRequest.newBuilder()
            .setRunId(runId)
            .setMetricKey(key)
            .setPageSize(pageSize)
            .setPageToken(pageToken)
            .build();
    GetMetricHistoryResponse reply = calls.call(() -> calls.tracking().getMetricHistory(request));
    return new Page<>(points(reply.getPoints()), reply.getNextPageToken());
  }

  /**
   * A metric's history reduced on the server to at most {@code maxPoints} (at most 10,000), keeping
   * its shape: the first and last point and each bucket's minimum and maximum.
   */
  public List<MetricPoint> getMetricHistory(String runId, String key, int maxPoints) {
    GetMetricHistoryRequest request =
        GetMetricHistoryRequest.newBuilder()
            .setRunId(runId)
            .setMetricKey(key)
            .setMaxPoints(maxPoints)
            .build();
    return points(calls.call(() -> calls.tracking().getMetricHistory(request)).getPoints());
  }

  /** One metric of several runs, downsampled per run, by run id in request order. */
  public Map<String, List<MetricPoint>> getMetricHistoryBulk(
      List<String> runIds, String key, int maxPoints) {
    GetMetricHistoryBulkRequest request =
        GetMetricHistoryBulkRequest.newBuilder()
            .addAllRunIds(runIds)
            .setMetricKey(key)
            .setMaxPoints(maxPoints)
            .build();
    Map<String, List<MetricPoint>> found = new LinkedHashMap<>();
    for (RunMetricHistory history :
        calls.call(() -> calls.tracking().getMetricHistoryBulk(request)).getHistoriesList()) {
      found.put(history.getRunId(), points(history.getPoints()));
    }
    return found;
  }

  static List<MetricPoint> points(MetricColumns columns) {
    int n = columns.getStepsCount();
    boolean labelled = columns.getWorkersCount() == n;
    List<MetricPoint> points = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      points.add(
          new MetricPoint(
              columns.getSteps(i),
              columns.getTimestamps(i),
              columns.getValues(i),
              labelled ? columns.getWorkers(i) : columns.getWorker()));
    }
    return points;
  }

  // The other parts

  /**
   * A background logger that batches metric points, params and tags of any runs onto the streaming
   * ingest RPC. Close it (or this client) to send what it holds.
   */
  public MetricLogger newMetricLogger() {
    return newMetricLogger(MetricLogger.Options.defaults());
  }

  public MetricLogger newMetricLogger(MetricLogger.Options options) {
    ensureOpen();
    MetricLogger[] made = new MetricLogger[1];
    // A closed logger leaves the list, so that the client does not keep every logger it made.
    made[0] = new MetricLogger(calls, options, () -> loggers.remove(made[0]));
    loggers.add(made[0]);
    return made[0];
  }

  /** The artifacts of a run. */
  public Artifacts artifacts(String runId) {
    return new Artifacts(calls, Artifacts.runScope(runId));
  }

  /** The artifacts of an experiment, stored at its artifact location. */
  public Artifacts experimentArtifacts(String experimentId) {
    return new Artifacts(calls, Artifacts.experimentScope(experimentId));
  }

  /** The model registry. */
  public RegistryClient registry() {
    return registry;
  }

  /**
   * Closes the metric loggers made by this client (sending what they hold; their errors are thrown
   * here), then the channel.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    TrackwayException first = null;
    for (MetricLogger logger : loggers) {
      try {
        logger.close();
      } catch (TrackwayException e) {
        first = first == null ? e : first;
      }
    }
    calls.managed.shutdown();
    try {
      if (!calls.managed.awaitTermination(5, TimeUnit.SECONDS)) {
        calls.managed.shutdownNow();
      }
    } catch (InterruptedException e) {
      calls.managed.shutdownNow();
      Thread.currentThread().interrupt();
    }
    if (first != null) {
      throw first;
    }
  }

  @Override
  public String toString() {
    return "TrackwayClient(" + calls.target + ")";
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the client is closed");
    }
  }

  static <T> List<T> allPages(Query query, Function<Query, Page<T>> search) {
    List<T> found = new ArrayList<>();
    Query next = query;
    while (true) {
      Page<T> page = search.apply(next);
      found.addAll(page.items());
      if (!page.hasNext()) {
        return found;
      }
      next = next.pageToken(page.nextPageToken());
    }
  }

  /** Settings of a client. Only {@link #build()} opens a connection (lazily, at the first call). */
  public static final class Builder {
    private Target target;
    private Boolean tls;
    private Path trustCertificates;
    private String token;
    private Duration deadline = Duration.ofSeconds(60);
    private Duration retryFor = Duration.ofSeconds(60);
    private int maxMessageBytes = 64 * 1024 * 1024;
    private final List<ClientInterceptor> interceptors = new ArrayList<>();

    private Builder() {}

    /**
     * The server: {@code grpc://host:port}, {@code grpcs://host:port} (TLS) or {@code host:port}
     * for the gRPC port, or {@code http://host:port[/prefix]} or {@code https://...} (TLS) for the
     * HTTP/JSON API on the HTTP port, with the same methods and behaviour. Default:
     * TRACKWAY_TRACKING_URI, else grpc://127.0.0.1:50051.
     */
    public Builder target(String uri) {
      this.target = Target.parse(uri);
      return this;
    }

    /** TLS on or off, overriding the URI's scheme. */
    public Builder tls(boolean enabled) {
      this.tls = enabled;
      return this;
    }

    /** PEM certificates to trust instead of the system's, such as a private CA's; turns TLS on. */
    public Builder trustCertificates(Path pemFile) {
      this.trustCertificates = pemFile;
      this.tls = true;
      return this;
    }

    /**
     * A bearer token, sent as {@code authorization: Bearer <token>} with every call (for a proxy or
     * gateway in front of the server). Use TLS beyond the local machine.
     */
    public Builder token(String bearerToken) {
      this.token = bearerToken;
      return this;
    }

    /** The deadline of each unary call attempt (default 60 s). Streams have none. */
    public Builder deadline(Duration perCall) {
      this.deadline = Objects.requireNonNull(perCall);
      return this;
    }

    /**
     * How long a call keeps retrying while the server is unreachable (default 60 s; zero: fail at
     * once). Retries are safe: writes carry a request_id that the server deduplicates.
     */
    public Builder retryFor(Duration window) {
      this.retryFor = Objects.requireNonNull(window);
      return this;
    }

    /** The largest message received (default 64 MiB, the server's default too). */
    public Builder maxMessageBytes(int bytes) {
      this.maxMessageBytes = bytes;
      return this;
    }

    /**
     * Interceptors for every call (tracing, extra headers), run in the order given, after the
     * bearer token is added.
     */
    public Builder intercept(ClientInterceptor... more) {
      interceptors.addAll(List.of(more));
      return this;
    }

    public TrackwayClient build() {
      Target where = target == null ? Target.fromEnvironment() : target;
      boolean secure = tls == null ? where.tls() : tls;
      where = new Target(where.host(), where.port(), secure, where.http(), where.basePath());
      ManagedChannel managed =
          where.http()
              ? new HttpChannel(where, trustCertificates, token, maxMessageBytes, deadline)
              : grpcChannel(where);
      // ClientInterceptors.intercept runs the last one of the list first.
      List<ClientInterceptor> chain = new ArrayList<>(interceptors);
      Collections.reverse(chain);
      if (token != null && !token.isEmpty()) {
        chain.add(new BearerToken(token));
      }
      return new TrackwayClient(
          new Calls(
              managed, ClientInterceptors.intercept(managed, chain), where, deadline, retryFor));
    }

    private ManagedChannel grpcChannel(Target where) {
      return Grpc.newChannelBuilderForAddress(where.host(), where.port(), credentials(where.tls()))
          .maxInboundMessageSize(maxMessageBytes)
          // Idle jobs behind NATs keep their connection; the server permits a ping every 10 s.
          .keepAliveTime(30, TimeUnit.SECONDS)
          .keepAliveTimeout(10, TimeUnit.SECONDS)
          .keepAliveWithoutCalls(true)
          .userAgent("trackway-java")
          .build();
    }

    private ChannelCredentials credentials(boolean secure) {
      if (!secure) {
        return InsecureChannelCredentials.create();
      }
      if (trustCertificates == null) {
        return TlsChannelCredentials.create();
      }
      try {
        return TlsChannelCredentials.newBuilder().trustManager(trustCertificates.toFile()).build();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read trust certificates " + trustCertificates, e);
      }
    }
  }
}
