// placeholder until the integration suite lands
