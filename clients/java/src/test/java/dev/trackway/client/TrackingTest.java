package dev.trackway.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trackway.tracking.v1.Dataset;
import dev.trackway.tracking.v1.DatasetInput;
import dev.trackway.tracking.v1.Experiment;
import dev.trackway.tracking.v1.LifecycleStage;
import dev.trackway.tracking.v1.Metric;
import dev.trackway.tracking.v1.Param;
import dev.trackway.tracking.v1.Run;
import dev.trackway.tracking.v1.RunInfo;
import dev.trackway.tracking.v1.RunStatus;
import dev.trackway.tracking.v1.RunTag;
import dev.trackway.tracking.v1.ViewType;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/** Experiments, runs, one-call logging, history and search against a live server. */
@ExtendWith(TrackwayServerExtension.class)
class TrackingTest {
  private static TrackwayClient client;

  @BeforeAll
  static void connect(TrackwayServer server, TestInfo test) {
    client = OverHttp.builder(server, test).build();
  }

  @AfterAll
  static void disconnect() {
    if (client != null) {
      client.close();
    }
  }

  static String unique(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  @Test
  void experimentLifecycle() {
    String name = unique("exp");
    Experiment created = client.createExperiment(name, "", Map.of("team", "vision"));
    assertEquals(name, created.getName());
    assertEquals(LifecycleStage.LIFECYCLE_STAGE_ACTIVE, created.getLifecycleStage());
    String id = created.getExperimentId();

    assertEquals(name, client.getExperiment(id).getName());
    assertEquals(id, client.getExperimentByName(name).getExperimentId());
    assertEquals(id, client.getOrCreateExperiment(name).getExperimentId());

    client.setExperimentTag(id, "owner", "ada");
    Map<String, String> tags =
        client.getExperiment(id).getTagsList().stream()
            .collect(Collectors.toMap(t -> t.getKey(), t -> t.getValue()));
    assertEquals(Map.of("team", "vision", "owner", "ada"), tags);
    client.deleteExperimentTag(id, "team");
    assertEquals(1, client.getExperiment(id).getTagsCount());

    String renamed = unique("renamed");
    assertEquals(renamed, client.renameExperiment(id, renamed).getName());

    client.createRun(id, "doomed");
    client.deleteExperiment(id);
    assertEquals(
        LifecycleStage.LIFECYCLE_STAGE_DELETED, client.getExperiment(id).getLifecycleStage());
    client.restoreExperiment(id);
    assertEquals(
        LifecycleStage.LIFECYCLE_STAGE_ACTIVE, client.getExperiment(id).getLifecycleStage());

    client.deleteExperiment(id);
    assertEquals(1, client.purgeExperiment(id));
    assertThrows(NotFoundException.class, () -> client.getExperiment(id));
    // The purged name is free again.
    assertNotEquals(id, client.createExperiment(renamed).getExperimentId());
  }

  @Test
  void getOrCreateMakesTheExperimentOnce() {
    String name = unique("once");
    String id = client.getOrCreateExperiment(name).getExperimentId();
    assertEquals(id, client.getOrCreateExperiment(name).getExperimentId());
  }

  @Test
  void searchAndListExperimentsFollowPages() {
    String prefix = unique("page");
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 5; i++) {
      ids.add(client.createExperiment(prefix + "-" + i).getExperimentId());
    }
    Query query = Query.filter("name LIKE '" + prefix + "-%'").orderBy("name ASC").pageSize(2);
    Page<Experiment> first = client.searchExperiments(query);
    assertEquals(2, first.items().size());
    assertTrue(first.hasNext());
    assertEquals(prefix + "-0", first.items().get(0).getName());

    List<Experiment> all = client.searchAllExperiments(query);
    assertEquals(ids, all.stream().map(Experiment::getExperimentId).collect(Collectors.toSet()));

    Set<String> listed =
        client.listExperiments().stream()
            .map(Experiment::getExperimentId)
            .collect(Collectors.toSet());
    assertTrue(listed.containsAll(ids));

    String gone = all.get(0).getExperimentId();
    client.deleteExperiment(gone);
    List<Experiment> deleted =
        client.searchAllExperiments(query.viewType(ViewType.VIEW_TYPE_DELETED_ONLY));
    assertEquals(List.of(gone), deleted.stream().map(Experiment::getExperimentId).toList());
  }

  @Test
  void runLifecycle() {
    String experimentId = client.createExperiment(unique("runs")).getExperimentId();
    Run run = client.createRun(experimentId, "first", Map.of("stage", "dev"));
    RunInfo info = run.getInfo();
    assertEquals("first", info.getRunName());
    assertEquals(RunStatus.RUN_STATUS_RUNNING, info.getStatus());
    assertEquals(32, info.getRunId().length());

    Run fetched = client.getRun(info.getRunId());
    assertTrue(fetched.getData().getTagsList().stream().anyMatch(t -> t.getKey().equals("stage")));

    assertEquals("second", client.renameRun(info.getRunId(), "second").getRunName());
    RunInfo failed = client.updateRun(info.getRunId(), RunStatus.RUN_STATUS_FAILED, 0);
    assertEquals(RunStatus.RUN_STATUS_FAILED, failed.getStatus());
    assertEquals(0, failed.getEndTime());
    RunInfo ended = client.endRun(info.getRunId());
    assertEquals(RunStatus.RUN_STATUS_FINISHED, ended.getStatus());
    assertTrue(ended.getEndTime() >= info.getStartTime());
    assertEquals(
        RunStatus.RUN_STATUS_KILLED,
        client.endRun(info.getRunId(), RunStatus.RUN_STATUS_KILLED).getStatus());

    Run defaults = client.createRun(experimentId);
    assertFalse(defaults.getInfo().getRunName().isEmpty());
    Run nested =
        client.createRun(
            dev.trackway.tracking.v1.CreateRunRequest.newBuilder()
                .setExperimentId(experimentId)
                .setParentRunId(info.getRunId())
                .setUserId("ada")
                .build());
    assertEquals(info.getRunId(), nested.getInfo().getParentRunId());
    assertEquals("ada", nested.getInfo().getUserId());

    client.deleteRun(info.getRunId());
    assertEquals(
        LifecycleStage.LIFECYCLE_STAGE_DELETED,
        client.getRun(info.getRunId()).getInfo().getLifecycleStage());
    assertThrows(
        FailedPreconditionException.class, () -> client.logParam(info.getRunId(), "k", "v"));
    client.restoreRun(info.getRunId());
    client.logParam(info.getRunId(), "k", "v");
  }

  @Test
  void oneCallLogging() {
    String experimentId = client.createExperiment(unique("log")).getExperimentId();
    String runId = client.createRun(experimentId).getInfo().getRunId();

    client.logMetric(runId, "acc", 0.5, 1);
    client.logMetric(runId, "acc", 0.75, 2, 1_700_000_000_002L);
    client.logParam(runId, "lr", "0.01");
    client.logParam(runId, "lr", "0.01"); // the same value again is fine
    assertThrows(FailedPreconditionException.class, () -> client.logParam(runId, "lr", "0.02"));
    client.setTag(runId, "note", "a");
    client.setTag(runId, "note", "b");
    client.setTag(runId, "gone", "x");
    client.deleteTag(runId, "gone");
    assertThrows(NotFoundException.class, () -> client.deleteTag(runId, "gone"));

    List<Metric> batch = new ArrayList<>();
    for (int step = 0; step < 10; step++) {
      batch.add(TrackwayClient.metric("loss", 1.0 / (step + 1), step, 1_700_000_000_000L + step));
    }
    Map<String, String> params = new LinkedHashMap<>();
    params.put("layers", "3");
    params.put("optimizer", "adam");
    client.logBatch(runId, batch, params, Map.of("phase", "train"));

    client.logInputs(
        runId,
        List.of(
            DatasetInput.newBuilder()
                .setDataset(
                    Dataset.newBuilder()
                        .setName("mnist")
                        .setDigest("abc123")
                        .setSourceType("local"))
                .build()));

    Run run = client.getRun(runId);
    assertEquals(
        Map.of("lr", "0.01", "layers", "3", "optimizer", "adam"),
        run.getData().getParamsList().stream()
            .collect(Collectors.toMap(Param::getKey, Param::getValue)));
    Map<String, String> tags =
        run.getData().getTagsList().stream()
            .collect(Collectors.toMap(RunTag::getKey, RunTag::getValue));
    assertEquals("b", tags.get("note"));
    assertEquals("train", tags.get("phase"));
    assertFalse(tags.containsKey("gone"));
    Map<String, Double> latest =
        run.getData().getMetricsList().stream()
            .collect(Collectors.toMap(Metric::getKey, Metric::getValue));
    assertEquals(0.75, latest.get("acc"));
    assertEquals(0.1, latest.get("loss"));
    assertEquals("mnist", run.getInputs().getDatasetInputs(0).getDataset().getName());

    List<MetricPoint> acc = client.getMetricHistory(runId, "acc");
    assertEquals(2, acc.size());
    assertEquals(new MetricPoint(2, 1_700_000_000_002L, 0.75, ""), acc.get(1));
    assertTrue(client.getMetricHistory(runId, "never-logged").isEmpty());
  }

  @Test
  void historyPagesDownsamplesAndBulk() {
    String experimentId = client.createExperiment(unique("history")).getExperimentId();
    String a = client.createRun(experimentId).getInfo().getRunId();
    String b = client.createRun(experimentId).getInfo().getRunId();
    for (int start = 0; start < 3000; start += 1000) {
      List<Metric> points = new ArrayList<>();
      for (int step = start; step < start + 1000; step++) {
        points.add(TrackwayClient.metric("loss", step, step, 1_700_000_000_000L + step));
      }
      client.logBatch(a, points, Map.of(), Map.of());
    }
    client.logMetric(b, "loss", 7.0, 0);

    Page<MetricPoint> page = client.getMetricHistoryPage(a, "loss", 1000, "");
    assertEquals(1000, page.items().size());
    assertTrue(page.hasNext());
    assertEquals(999, page.items().get(999).step());

    List<MetricPoint> all = client.getMetricHistory(a, "loss");
    assertEquals(3000, all.size());
    for (int i = 0; i < all.size(); i++) {
      assertEquals(i, all.get(i).step());
      assertEquals((double) i, all.get(i).value());
    }

    List<MetricPoint> reduced = client.getMetricHistory(a, "loss", 100);
    assertTrue(reduced.size() <= 100 && reduced.size() > 2, "got " + reduced.size());
    assertEquals(0, reduced.get(0).step());
    assertEquals(2999, reduced.get(reduced.size() - 1).step());

    Map<String, List<MetricPoint>> bulk = client.getMetricHistoryBulk(List.of(b, a), "loss", 50);
    assertEquals(List.of(b, a), new ArrayList<>(bulk.keySet()));
    assertEquals(7.0, bulk.get(b).get(0).value());
    assertTrue(bulk.get(a).size() <= 50);
  }

  @Test
  void searchRunsWithFilterOrderAndPaging() {
    String experimentId = client.createExperiment(unique("search")).getExperimentId();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      String runId = client.createRun(experimentId, "r" + i).getInfo().getRunId();
      client.logMetric(runId, "loss", i / 10.0, 0);
      client.logParam(runId, "parity", i % 2 == 0 ? "even" : "odd");
      ids.add(runId);
    }
    List<String> experiments = List.of(experimentId);

    Query byLoss = Query.filter("metrics.loss < 0.35").orderBy("metrics.loss DESC").pageSize(2);
    Page<Run> first = client.searchRuns(experiments, byLoss);
    assertEquals(
        List.of(ids.get(3), ids.get(2)),
        first.items().stream().map(r -> r.getInfo().getRunId()).toList());
    Page<Run> second = client.searchRuns(experiments, byLoss.pageToken(first.nextPageToken()));
    assertEquals(
        List.of(ids.get(1), ids.get(0)),
        second.items().stream().map(r -> r.getInfo().getRunId()).toList());

    List<Run> odd =
        client.searchAllRuns(
            experiments,
            Query.filter("params.parity = 'odd'").orderBy("attributes.run_name ASC").pageSize(1));
    assertEquals(
        List.of("r1", "r3", "r5"), odd.stream().map(r -> r.getInfo().getRunName()).toList());

    client.deleteRun(ids.get(0));
    assertEquals(5, client.searchAllRuns(experiments, Query.all()).size());
    assertEquals(
        List.of(ids.get(0)),
        client
            .searchAllRuns(experiments, Query.all().viewType(ViewType.VIEW_TYPE_DELETED_ONLY))
            .stream()
            .map(r -> r.getInfo().getRunId())
            .toList());

    InvalidArgumentException bad =
        assertThrows(
            InvalidArgumentException.class,
            () -> client.searchRuns(experiments, Query.filter("metrics.loss <<< 1")));
    assertEquals("INVALID_PARAMETER_VALUE", bad.reason());
  }
}
