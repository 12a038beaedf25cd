package org.pathlingrelay.bench;

import static org.assertj.core.api.Assertions.assertThat;

import ca.uhn.fhir.context.FhirContext;
import java.nio.file.Path;
import java.util.List;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.junit.jupiter.api.Test;

class SyntheaCorpusTest {

  @Test
  void moreTypesThanTheCorpusHas_arePaddedWithCommonTypes_whoseResourcesParse() {
    SyntheaCorpus corpus = SyntheaCorpus.load(Path.of("src/test/fixtures/synthea-10"));

    List<String> types = corpus.types(21);

    assertThat(types).hasSize(21).doesNotHaveDuplicates().startsWith(corpus.largestTypes(13).toArray(String[]::new));
    FhirContext fhir = FhirContext.forR4Cached();
    for (String type : types) {
      IBaseResource parsed = fhir.newJsonParser().parseResource(corpus.ofType(type).get(0).body("x1"));
      assertThat(fhir.getResourceType(parsed)).isEqualTo(type);
      assertThat(parsed.getIdElement().getIdPart()).isEqualTo("x1");
    }
  }
}
