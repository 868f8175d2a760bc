/**
 * Settings for the code under test, given the way `Config` reads them (src/shared/Settings.ts):
 * a `ConfigProvider` over this map alone, instead of writing `process.env` at module load.
 */
import { ConfigProvider, Layer } from "effect"

/** A layer that makes `Config` read these settings, and nothing from the process environment. */
export const settingsLayer = (settings: Readonly<Record<string, string>>): Layer.Layer<never> =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(settings))))
