"""The integrator APIs: MAPI (OAuth 2.0) and the legacy SMAPI, with their OpenAPI docs."""
