package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;

import ca.uhn.fhir.rest.client.api.IGenericClient;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class HapiJpaServerTest {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();

  @Test
  void putWithClientId_createsTheResource() {
    IGenericClient client = hapi.client();
    Patient patient = new Patient();
    patient.setId("Patient/hapi-smoke-1");
    patient.addName().setFamily("Smoke");
    client.update().resource(patient).execute();

    Patient read = client.read().resource(Patient.class).withId("hapi-smoke-1").execute();
    assertThat(read.getNameFirstRep().getFamily()).isEqualTo("Smoke");
    assertThat(read.getMeta().getVersionId()).isEqualTo("1");
    System.out.println("HAPI start took " + hapi.startTime().toMillis() + " ms");
  }
}
