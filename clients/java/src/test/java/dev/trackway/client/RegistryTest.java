package dev.trackway.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trackway.registry.v1.CreateModelVersionRequest;
import dev.trackway.registry.v1.ModelVersion;
import dev.trackway.registry.v1.ModelVersionStage;
import dev.trackway.registry.v1.ModelVersionStatus;
import dev.trackway.registry.v1.ModelVersionTag;
import dev.trackway.registry.v1.RegisteredModel;
import dev.trackway.registry.v1.RegisteredModelTag;
import dev.trackway.registry.v1.ResolveModelUriResponse;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/** The model registry flow against a live server. */
@ExtendWith(TrackwayServerExtension.class)
class RegistryTest {
  private static TrackwayClient client;
  private static RegistryClient registry;
  private static String runId;
  private static String artifactUri;

  @BeforeAll
  static void connect(TrackwayServer server, TestInfo test) {
    client = OverHttp.builder(server, test).build();
    registry = client.registry();
    String exp = client.createExperiment(TrackingTest.unique("registry")).getExperimentId();
    var run = client.createRun(exp).getInfo();
    runId = run.getRunId();
    artifactUri = run.getArtifactUri();
  }

  @AfterAll
  static void disconnect() {
    if (client != null) {
      client.close();
    }
  }

  @Test
  void modelsVersionsAliasesAndStages() {
    String name = TrackingTest.unique("fraud");
    RegisteredModel model =
        registry.createRegisteredModel(name, "first cut", Map.of("team", "risk"));
    assertEquals(name, model.getName());
    assertThrows(AlreadyExistsException.class, () -> registry.createRegisteredModel(name));

    ModelVersion v1 = registry.createModelVersion(name, "runs:/" + runId + "/model", "");
    assertEquals(1, v1.getVersion());
    assertEquals(runId, v1.getRunId());
    assertEquals(ModelVersionStatus.MODEL_VERSION_STATUS_READY, v1.getStatus());
    assertEquals(ModelVersionStage.MODEL_VERSION_STAGE_NONE, v1.getCurrentStage());
    assertEquals(artifactUri + "/model", v1.getStorageLocation());
    ModelVersion v2 =
        registry.createModelVersion(
            CreateModelVersionRequest.newBuilder()
                .setName(name)
                .setSource(artifactUri + "/model2")
                .setRunId(runId)
                .setDescription("second")
                .addTags(ModelVersionTag.newBuilder().setKey("quality").setValue("good"))
                .build());
    assertEquals(2, v2.getVersion());
    assertEquals("second", registry.getModelVersion(name, 2).getDescription());

    // Tags
    registry.setRegisteredModelTag(name, "owner", "ada");
    registry.deleteRegisteredModelTag(name, "team");
    assertEquals(
        Map.of("owner", "ada"),
        registry.getRegisteredModel(name).getTagsList().stream()
            .collect(Collectors.toMap(RegisteredModelTag::getKey, RegisteredModelTag::getValue)));
    registry.setModelVersionTag(name, 1, "checked", "yes");
    registry.deleteModelVersionTag(name, 2, "quality");
    assertEquals("checked", registry.getModelVersion(name, 1).getTags(0).getKey());
    assertEquals(0, registry.getModelVersion(name, 2).getTagsCount());

    // Descriptions, with and without the lost-update check
    RegisteredModel described = registry.updateRegisteredModel(name, "better");
    assertEquals("better", described.getDescription());
    assertThrows(
        AbortedException.class,
        () ->
            registry.updateRegisteredModel(name, "stale", described.getLastUpdatedTimestamp() - 1));
    assertEquals(
        "fresh",
        registry
            .updateRegisteredModel(name, "fresh", described.getLastUpdatedTimestamp())
            .getDescription());
    assertEquals("v1 notes", registry.updateModelVersion(name, 1, "v1 notes").getDescription());

    // Aliases
    assertEquals(1, registry.setAlias(name, "champion", 1).getVersion());
    assertEquals(2, registry.setAlias(name, "champion", 2).getVersion());
    assertEquals(2, registry.getModelVersionByAlias(name, "champion").getVersion());
    assertThrows(InvalidArgumentException.class, () -> registry.setAlias(name, "latest", 1));
    registry.deleteAlias(name, "champion");
    assertThrows(NotFoundException.class, () -> registry.getModelVersionByAlias(name, "champion"));

    // Stages
    registry.transitionStage(name, 1, ModelVersionStage.MODEL_VERSION_STAGE_PRODUCTION, false);
    ModelVersion promoted =
        registry.transitionStage(name, 2, ModelVersionStage.MODEL_VERSION_STAGE_PRODUCTION, true);
    assertEquals(ModelVersionStage.MODEL_VERSION_STAGE_PRODUCTION, promoted.getCurrentStage());
    assertEquals(
        ModelVersionStage.MODEL_VERSION_STAGE_ARCHIVED,
        registry.getModelVersion(name, 1).getCurrentStage());
    List<ModelVersion> latest =
        registry.getLatestVersions(name, ModelVersionStage.MODEL_VERSION_STAGE_PRODUCTION);
    assertEquals(List.of(2L), latest.stream().map(ModelVersion::getVersion).toList());
    assertEquals(2, registry.getLatestVersions(name).size());

    // Locations and lineage
    assertEquals(artifactUri + "/model", registry.getModelVersionDownloadUri(name, 1));
    ResolveModelUriResponse resolved = registry.resolveModelUri("models:/" + name + "/Production");
    assertEquals(2, resolved.getModelVersion().getVersion());
    assertEquals(artifactUri + "/model2", resolved.getArtifactUri());
    assertEquals(runId, registry.resolveModelUri("runs:/" + runId + "/x").getRunId());
    assertTrue(
        registry.listRunModelVersions(runId).stream()
            .anyMatch(v -> v.getName().equals(name) && v.getVersion() == 2));

    // Rename, then delete a version and the model
    String renamed = name + "-v2";
    assertEquals(renamed, registry.renameRegisteredModel(name, renamed).getName());
    assertThrows(NotFoundException.class, () -> registry.getRegisteredModel(name));
    registry.deleteModelVersion(renamed, 1);
    assertThrows(NotFoundException.class, () -> registry.getModelVersion(renamed, 1));
    assertEquals(
        3, registry.createModelVersion(renamed, artifactUri + "/model3", runId).getVersion());
    registry.deleteRegisteredModel(renamed);
    assertThrows(NotFoundException.class, () -> registry.getRegisteredModel(renamed));
  }

  @Test
  void searchModelsAndVersions() {
    String prefix = TrackingTest.unique("search");
    for (int i = 0; i < 3; i++) {
      String name = prefix + "-" + i;
      registry.createRegisteredModel(name);
      for (int v = 0; v <= i; v++) {
        registry.createModelVersion(name, artifactUri + "/m" + i + "/" + v, runId);
      }
    }
    Query models = Query.filter("name LIKE '" + prefix + "-%'").orderBy("name DESC").pageSize(2);
    Page<RegisteredModel> first = registry.searchRegisteredModels(models);
    assertEquals(
        List.of(prefix + "-2", prefix + "-1"),
        first.items().stream().map(RegisteredModel::getName).toList());
    assertTrue(first.hasNext());
    assertEquals(3, registry.searchAllRegisteredModels(models).size());

    List<ModelVersion> versions =
        registry.searchAllModelVersions(
            Query.filter("name = '" + prefix + "-2' AND version >= 2").pageSize(1));
    assertEquals(List.of(3L, 2L), versions.stream().map(ModelVersion::getVersion).toList());
    Page<ModelVersion> page =
        registry.searchModelVersions(Query.filter("name LIKE '" + prefix + "-%'"));
    assertEquals(6, page.items().size());
    assertThrows(
        InvalidArgumentException.class,
        () -> registry.searchRegisteredModels(Query.filter("nome = 'x'")));
  }

  @Test
  void sourcesOutsideTheArtifactRootAreRefused() {
    String name = TrackingTest.unique("unsafe");
    registry.createRegisteredModel(name);
    InvalidArgumentException refused =
        assertThrows(
            InvalidArgumentException.class,
            () -> registry.createModelVersion(name, "file:///etc", ""));
    assertEquals("INVALID_PARAMETER_VALUE", refused.reason());
    assertThrows(
        NotFoundException.class,
        () -> registry.createModelVersion(name, "runs:/0123456789abcdef0123456789abcdef/m", ""));
  }
}
