"""Pure payload builders: Message + Device -> APNs / FCM / Web Push requests."""
