"""Model lines through the API: operators configure gates, everyone with a role reads them."""


def test_an_operator_creates_a_line_with_its_gates(operator, api_client_for):
    client = api_client_for(operator)
    response = client.post(
        "/api/model-lines/",
        {
            "name": "medical-qa",
            "base_model": "meta-llama/Meta-Llama-3-8B",  # a hub id: a worker downloads it
            "edited_modules": ["model.layers.29.mlp.down_proj", "model.layers.30.mlp.down_proj"],
            "editor_settings": {"method": "amend", "lr": 1e-6},
            "locality_probes": [{"prompt": "The boiling point of water is", "answer": "100 degrees"}],
            "min_efficacy": 0.95,
            "approvals_required": 2,
            "max_wait_seconds": 600,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    line = response.json()
    assert line["created_by"] == "otto" and line["approvals_required"] == 2 and line["max_wait_seconds"] == 600
    assert line["min_locality"] == 0.9, "gates not given keep their defaults"


def test_out_of_range_gates_and_bad_names_are_400_naming_the_field(operator, api_client_for, model_line):
    client = api_client_for(operator)
    bad_gate = client.post("/api/model-lines/", {"name": "x", "min_efficacy": 1.5}, format="json")
    assert bad_gate.status_code == 400 and "min_efficacy" in bad_gate.json()
    bad_name = client.post("/api/model-lines/", {"name": "has spaces"}, format="json")
    assert bad_name.status_code == 400 and "name" in bad_name.json()
    taken = client.post("/api/model-lines/", {"name": model_line.name}, format="json")
    assert taken.status_code == 400 and "already exists" in str(taken.json()["name"])
    nul = client.post("/api/model-lines/", {"name": "ok", "editor_settings": {"method": "a\x00"}}, format="json")
    assert nul.status_code == 400 and "editor_settings" in nul.json()
    too_many = client.patch(f"/api/model-lines/{model_line.pk}/", {"approvals_required": 11}, format="json")
    assert too_many.status_code == 400 and "approvals_required" in too_many.json()
