// The console's entry: styles, then the app mounted on #app. Bundled by scripts/build-console.ts.
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { App } from './app.tsx';
import { resumeSession } from './session.ts';

render(<App />, document.getElementById('app')!);
void resumeSession();
