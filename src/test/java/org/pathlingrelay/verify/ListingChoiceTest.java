package org.pathlingrelay.verify;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.junit.jupiter.api.Test;
import org.pathlingrelay.source.SourceResourceTypes;

/** Which listing a type gets: auto exports only types above the threshold, from a source that offers $export. */
class ListingChoiceTest {

  private static final BooleanSupplier OFFERED = () -> true;
  private static final BooleanSupplier NOT_OFFERED = () -> false;

  @Test
  void auto_exportsOnlyAboveTheThreshold_andOnlyWhenTheSourceOffersExport() {
    ListingChoice auto = new ListingChoice(ListingChoice.Mode.AUTO, 100_000);

    assertThat(auto.choose(100_001, OFFERED)).isEqualTo(Listing.EXPORT);
    assertThat(auto.choose(100_000, OFFERED)).as("at the threshold").isEqualTo(Listing.SEARCH);
    assertThat(auto.choose(5, OFFERED)).isEqualTo(Listing.SEARCH);
    assertThat(auto.choose(10_000_000, NOT_OFFERED)).as("no $export in the CapabilityStatement")
        .isEqualTo(Listing.SEARCH);
  }

  @Test
  void auto_asksForTheCapabilityStatement_onlyForATypeAboveTheThreshold() {
    AtomicInteger asked = new AtomicInteger();
    new ListingChoice(ListingChoice.Mode.AUTO, 10).choose(10, () -> asked.incrementAndGet() > 0);
    assertThat(asked).hasValue(0);
  }

  @Test
  void searchAndExport_areWhatTheySay_whateverTheCount() {
    assertThat(new ListingChoice(ListingChoice.Mode.SEARCH, 0).choose(1_000_000, OFFERED)).isEqualTo(Listing.SEARCH);
    assertThat(new ListingChoice(ListingChoice.Mode.EXPORT, 100_000).choose(1, NOT_OFFERED))
        .isEqualTo(Listing.EXPORT);
  }

  @Test
  void theCapabilityStatement_offersExport_byNameOrByTheBulkDataDefinition_atSystemLevel() {
    CapabilityStatement byName = new CapabilityStatement();
    byName.addRest().setMode(CapabilityStatement.RestfulCapabilityMode.SERVER).addOperation().setName("export")
        .setDefinition("http://example.org/OperationDefinition/whatever");
    CapabilityStatement byDefinition = new CapabilityStatement();
    byDefinition.addRest().addOperation().setName("bulk-export")
        .setDefinition("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export");
    CapabilityStatement typeLevelOnly = new CapabilityStatement();
    CapabilityStatement.CapabilityStatementRestComponent rest = typeLevelOnly.addRest();
    rest.addOperation().setName("reindex");
    rest.addResource().setType("Patient").addOperation().setName("export");

    assertThat(SourceResourceTypes.exportsSystem(byName)).isTrue();
    assertThat(SourceResourceTypes.exportsSystem(byDefinition)).isTrue();
    assertThat(SourceResourceTypes.exportsSystem(typeLevelOnly)).isFalse();
    assertThat(SourceResourceTypes.exportsSystem(new CapabilityStatement())).isFalse();
  }
}
